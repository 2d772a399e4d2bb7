"""Send canonical event payloads to the raw topic as JSONL batch messages (kafka-python).

One Kafka message per `batch` events keeps the broker and Faust's per-message cost low; every
message holds events of one account partition (so the worker records them without a second
broker trip); a header `touchline-origin: <run>:@<line>,...` lets `ingest --wait` match
rejects to file lines.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from touchline.errors import BrokerUnreachable, OneLineError
from touchline.schemas.dead_letter import DeadLetter
from touchline.settings import Settings
from touchline.stack.topics_admin import BOOTSTRAP_TIMEOUT_MS
from touchline.streams.partitioning import event_partition


class ProduceError(OneLineError):
    """The broker did not take the messages; the message says what to check."""


def producer(settings: Settings) -> KafkaProducer:
    """A durable producer (acks=all, retries) for the configured broker."""
    try:
        return KafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap, acks="all", retries=10,
            # no idempotent producer: the embedded broker forgets producer ids when it
            # restarts and then rejects every retry (OutOfOrderSequenceNumber); a retried
            # duplicate is harmless, the pipeline dedups on event_id
            enable_idempotence=False,
            compression_type=settings.kafka.compression_type,
            linger_ms=20, max_request_size=settings.pipeline.max_message_bytes + 65536,
            request_timeout_ms=30_000, max_block_ms=15_000, client_id="touchline-producer",
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        )
    except KafkaError as exc:
        raise BrokerUnreachable(settings.kafka.bootstrap) from exc


def account_partition(payload: bytes, partitions: int) -> int:
    """The partition of the event's account (as validation computes it); 0 if unreadable.

    Sending each event to its account's partition lets the worker record it where it is
    validated, without a second trip through the broker (streams/agents/validate_activity.py).
    """
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return 0
    return event_partition(doc, partitions) if isinstance(doc, dict) else 0



def oversized(settings: Settings, payload: bytes, origin: str, topic: str = "") -> bytes:
    """The dead letter (`too_large`) of one payload too large to send: its first 64 KiB.

    Over pipeline.max_message_bytes the broker would refuse the message and the send would
    fail the whole run; validation would reject it anyway, so the producer dead-letters it.
    """
    limit = settings.pipeline.max_message_bytes
    dead = DeadLetter.of(
        payload[:65536], "too_large",
        f"event is {len(payload)} bytes; the limit is {limit} (pipeline.max_message_bytes): "
        "not sent", source_topic=topic or settings.kafka.raw_topic, origin=origin)
    return dead.model_copy(update={"payload_bytes": len(payload)}).model_dump_json().encode()


def send_batches(settings: Settings, payloads: Iterable[bytes], *, batch: int = 500,
                 rate: float | None = None, origin: str = "",
                 max_bytes: int | None = None, topic: str | None = None,
                 line_numbers: Sequence[int] | None = None) -> int:
    """Send payloads (one event each) in JSONL messages; returns how many events were sent.

    Each message holds events of one partition (their accounts'); with `origin`, its
    `touchline-origin` header names the file line of every event (`<origin>:@<l>,<l>,...`).
    `rate` caps events per second (None: as fast as the broker takes them). `topic`: the
    raw topic unless given (`touchline ingest` sends to the backfill topic). `line_numbers`:
    each payload's line in its file, when they are not sent in file order.
    """
    max_bytes = max_bytes or settings.pipeline.max_message_bytes // 2
    partitions = settings.kafka.partitions
    prod = producer(settings)
    topic = topic or settings.kafka.raw_topic
    sent = 0
    buffers: dict[int, tuple[list[bytes], list[int]]] = {}
    sizes: dict[int, int] = {}
    started = time.monotonic()
    futures = []

    def flush(partition: int) -> None:
        lines, numbers = buffers.pop(partition, ([], []))
        sizes.pop(partition, None)
        if lines:
            headers = None
            if origin:
                listed = ",".join(map(str, numbers))
                headers = [("touchline-origin", f"{origin}:@{listed}".encode())]
            futures.append(prod.send(topic, b"\n".join(lines), partition=partition,
                                     headers=headers))

    try:
        for payload in payloads:
            if len(payload) > settings.pipeline.max_message_bytes:
                line = line_numbers[sent] if line_numbers is not None else sent
                futures.append(prod.send(settings.kafka.dlq_topic, oversized(
                    settings, payload, f"{origin}:{line}" if origin else "", topic)))
                sent += 1
                continue
            partition = account_partition(payload, partitions)
            lines, numbers = buffers.setdefault(partition, ([], []))
            lines.append(payload)
            numbers.append(line_numbers[sent] if line_numbers is not None else sent)
            sizes[partition] = sizes.get(partition, 0) + len(payload) + 1
            sent += 1
            if len(lines) >= batch or sizes[partition] >= max_bytes:
                flush(partition)
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                if len(futures) > 200:
                    for f in futures:
                        f.get(timeout=60)
                    futures.clear()
            elif rate and sent % batch == 0:  # a slow rate must not hold events back
                for p in list(buffers):
                    flush(p)
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        for p in list(buffers):
            flush(p)
        prod.flush(timeout=60)
        for f in futures:
            f.get(timeout=60)
    except KafkaError as exc:
        raise ProduceError(f"the broker at {settings.kafka.bootstrap} did not accept the "
                           f"messages ({exc}); is `touchline up` running?") from exc
    finally:
        prod.close(timeout=10)
    return sent
