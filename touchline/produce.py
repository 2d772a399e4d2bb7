"""Send canonical event payloads to the raw topic as JSONL batch messages (kafka-python).

One Kafka message per `batch` events keeps the broker and Faust's per-message cost low; a
header `touchline-origin: <run>:<first line>` lets `ingest --wait` match rejects to lines.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaProducer
from kafka.errors import KafkaError

from touchline.settings import Settings


class ProduceError(RuntimeError):
    """The broker did not take the messages; the message says what to check."""


def producer(settings: Settings) -> KafkaProducer:
    """A durable producer (acks=all, retries) for the configured broker."""
    try:
        return KafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap, acks="all", retries=10,
            linger_ms=20, max_request_size=settings.pipeline.max_message_bytes + 65536,
            request_timeout_ms=30_000, max_block_ms=15_000, client_id="touchline-producer",
        )
    except KafkaError as exc:
        raise ProduceError(
            f"no Kafka broker answers at {settings.kafka.bootstrap}: start the stack with "
            "`touchline up` (or set TOUCHLINE_KAFKA__BOOTSTRAP)"
        ) from exc


def send_batches(settings: Settings, payloads: Iterable[bytes], *, batch: int = 500,
                 rate: float | None = None, origin: str = "",
                 max_bytes: int | None = None) -> int:
    """Send payloads (one event each) in JSONL messages; returns how many events were sent.

    `rate` caps events per second (None: as fast as the broker takes them).
    """
    max_bytes = max_bytes or settings.pipeline.max_message_bytes // 2
    prod = producer(settings)
    topic = settings.kafka.raw_topic
    sent, lines, size, first = 0, [], 0, 0
    started = time.monotonic()
    futures = []

    def flush() -> None:
        nonlocal lines, size, first
        if lines:
            headers = [("touchline-origin", f"{origin}:{first}".encode())] if origin else None
            futures.append(prod.send(topic, b"\n".join(lines), headers=headers))
            first += len(lines)
            lines, size = [], 0

    try:
        for payload in payloads:
            lines.append(payload)
            size += len(payload) + 1
            sent += 1
            if len(lines) >= batch or size >= max_bytes:
                flush()
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                if len(futures) > 200:
                    for f in futures:
                        f.get(timeout=60)
                    futures.clear()
        flush()
        prod.flush(timeout=60)
        for f in futures:
            f.get(timeout=60)
    except KafkaError as exc:
        raise ProduceError(f"the broker at {settings.kafka.bootstrap} did not accept the "
                           f"messages ({exc}); is `touchline up` running?") from exc
    finally:
        prod.close(timeout=10)
    return sent
