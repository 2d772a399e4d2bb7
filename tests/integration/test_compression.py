"""touchline's producers compress as `kafka.compression` says, and the broker stores it so.

On a broker of its own (its store file then holds only this test's topics): the same
simulator events sent with `compression=none` and with the default, lz4, through
`touchline.load.produce.send_batches`. Both topics must read back to exactly the events sent (by
kafka-python and by aiokafka, the two clients touchline consumes with), and the lz4 topic must
take a fraction of the store's bytes. If a producer stopped compressing, the second check
fails; if a client could not read lz4, the first one does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from tests.harness import raw_topic_messages
from touchline.load.produce import send_batches
from touchline.load.simulator import Simulator
from touchline.settings import KafkaSettings, Settings
from touchline.stack.services import wait_broker_saved
from touchline.stack.topics_admin import ensure_topics

EVENTS = 20_000


def _events() -> list[bytes]:
    sim = Simulator(seed=11)
    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    return list(itertools.islice(sim.payloads(start, 500.0), EVENTS))


def _read_kafka_python(settings: Settings) -> list[bytes]:
    messages = raw_topic_messages(settings.kafka)
    return [line for _, _, value in messages for line in value.split(b"\n")]


async def _read_aiokafka(settings: Settings) -> list[bytes]:
    k = settings.kafka
    consumer = AIOKafkaConsumer(k.raw_topic, bootstrap_servers=k.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        lines: list[bytes] = []
        for _ in range(60):
            batch = await consumer.getmany(timeout_ms=1000)
            lines += [line for ms in batch.values() for m in ms for line in m.value.split(b"\n")]
            if len(lines) >= EVENTS:
                break
        return lines
    finally:
        await consumer.stop()


def _store_bytes(data_dir: Path, changed_after: float) -> int:
    """The store file's size once it was saved after `changed_after` (epoch s) and is quiet."""
    store = data_dir / "kafka.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # noida-db saves asynchronously after a change
        if store.exists() and store.stat().st_mtime > changed_after:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the broker did not save its store within 60 s")
    wait_broker_saved(store, quiet=1.0)
    return store.stat().st_size


@pytest.mark.integration
def test_lz4_batches_read_back_exactly_and_keep_the_broker_store_small(
    broker_factory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "broker"
    broker = broker_factory(data_dir=data_dir)
    events = _events()
    grew: dict[str, int] = {}
    for codec in ("none", "lz4"):
        settings = Settings(kafka=KafkaSettings(
            bootstrap=f"127.0.0.1:{broker.port}", raw_topic=f"raw-{codec}",
            activities_topic=f"rows-{codec}", dlq_topic=f"dlq-{codec}", compression=codec))
        created = time.time()
        ensure_topics(settings)
        before = _store_bytes(data_dir, created)
        sent = time.time()
        assert send_batches(settings, events) == EVENTS
        grew[codec] = _store_bytes(data_dir, sent) - before
        assert sorted(_read_kafka_python(settings)) == sorted(events), codec
        assert sorted(asyncio.run(_read_aiokafka(settings))) == sorted(events), codec
    print(f"store growth for {EVENTS} events: {grew}")
    assert grew["lz4"] * 3 < grew["none"], grew


def test_compression_defaults_to_lz4_and_none_means_uncompressed() -> None:
    assert KafkaSettings().compression_type == "lz4"
    assert KafkaSettings(compression="none").compression_type is None
    assert KafkaSettings(compression="zstd").compression_type == "zstd"
