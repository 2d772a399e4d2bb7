"""touchline's producers compress as `kafka.compression` says, and the broker stores it so.

On a broker of its own (its store file then holds only this test's topics): the same
simulator events sent with every codec the setting accepts, through
`touchline.load.produce.send_batches` (kafka-python: `touchline load`, `touchline ingest`).
Every topic must read back to exactly the events sent (by kafka-python and by aiokafka, the two
clients touchline consumes with), and each compressed topic's record batches, as the broker
saved them, must take under a third of the uncompressed topic's. If a producer stopped
compressing, the second check fails; if a client could not write or read a codec (kafka-python
needs a library of its own for zstd and snappy), the first one does. aiokafka, the producer of
`touchline serve` and of the workers (Faust), sends with every codec too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
from pathlib import Path
from typing import get_args

import pytest
from aiokafka import AIOKafkaConsumer

from tests.harness import raw_topic_messages
from touchline.load.produce import send_batches
from touchline.load.simulator import Simulator
from touchline.settings import KafkaSettings, Settings
from touchline.stack.topics_admin import ensure_topics
from touchline.webhooks.server import start_producer

EVENTS = 20_000
#: every value `kafka.compression` accepts
CODECS = get_args(KafkaSettings.model_fields["compression"].annotation)


def _events() -> list[bytes]:
    sim = Simulator(seed=11)
    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    return list(itertools.islice(sim.payloads(start, 500.0), EVENTS))


def _lines(messages: list[tuple[int, int, bytes]]) -> list[bytes]:
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


def _saved_topic_bytes(data_dir: Path, topic: str, ends: dict[int, int]) -> int:
    """Bytes of `topic`'s record batches in noida-db's store file, once it holds all of them.

    noida-db acknowledges before it saves, and saves the whole store again after changes, so
    a save can hold part of what was sent (a save taken mid-send, then one more a second or
    more later): the store counts only when every partition's saved high watermark is the
    end offset the broker answered.
    """
    store = data_dir / "kafka.json"
    deadline = time.monotonic() + 60
    saved: dict[int, int] = {}
    while time.monotonic() < deadline:
        try:
            doc = json.loads(store.read_bytes())
        except (OSError, ValueError):  # not saved yet, or caught mid-write
            time.sleep(0.1)
            continue
        topics = {name: t for name, t in doc["topics"]}
        partitions = dict(topics[topic]["partitions"]) if topic in topics else {}
        saved = {p: part["high_watermark"] for p, part in partitions.items()}
        if saved and all(saved.get(p) == end for p, end in ends.items()):
            return sum(len(batch) for part in partitions.values()
                       for _, batch in part["record_batches"])
        time.sleep(0.1)
    raise AssertionError(f"the broker did not save {topic} up to {ends} within 60 s: {saved}")


async def _send_aiokafka(settings: Settings, events: list[bytes]) -> None:
    """One event a message through `touchline serve`'s own producer (the setting's codec)."""
    producer = await start_producer(settings, attempts=1)
    try:
        for event in events:
            await producer.send(settings.kafka.raw_topic, event, partition=0)
        await producer.flush()
    finally:
        await producer.stop()


def _settings(port: int, name: str, codec: str) -> Settings:
    return Settings(kafka=KafkaSettings(
        bootstrap=f"127.0.0.1:{port}", raw_topic=f"raw-{name}", activities_topic=f"rows-{name}",
        dlq_topic=f"dlq-{name}", compression=codec))


@pytest.mark.integration
def test_every_codec_reads_back_exactly_and_keeps_the_broker_store_small(
    broker_factory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "broker"
    broker = broker_factory(data_dir=data_dir)
    events = _events()
    stored: dict[str, int] = {}
    for codec in CODECS:
        settings = _settings(broker.port, codec, codec)
        ensure_topics(settings)
        assert send_batches(settings, events) == EVENTS
        messages = raw_topic_messages(settings.kafka)
        assert sorted(_lines(messages)) == sorted(events), codec
        assert sorted(asyncio.run(_read_aiokafka(settings))) == sorted(events), codec
        ends: dict[int, int] = {}
        for partition, offset, _ in messages:
            ends[partition] = max(ends.get(partition, 0), offset + 1)
        stored[codec] = _saved_topic_bytes(data_dir, settings.kafka.raw_topic, ends)
    print(f"bytes the broker's store holds for {EVENTS} events: {stored}")
    assert stored["none"] >= sum(len(e) for e in events), stored  # every byte, uncompressed
    for codec in CODECS:
        if codec != "none":
            assert stored[codec] * 3 < stored["none"], (codec, stored)


@pytest.mark.integration
@pytest.mark.parametrize("codec", CODECS)
def test_aiokafka_producers_send_with_every_codec(broker_factory, codec: str) -> None:
    broker = broker_factory()
    settings = _settings(broker.port, f"aio-{codec}", codec)
    ensure_topics(settings)
    events = _events()[:500]
    asyncio.run(_send_aiokafka(settings, events))
    assert [value for _, _, value in raw_topic_messages(settings.kafka)] == events


def test_compression_defaults_to_zstd_and_none_means_uncompressed() -> None:
    assert KafkaSettings().compression_type == "zstd"
    assert KafkaSettings(compression="none").compression_type is None
    assert KafkaSettings(compression="lz4").compression_type == "lz4"
