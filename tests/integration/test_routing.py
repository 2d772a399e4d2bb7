"""Where events are recorded: in place when producers route by account, forwarded otherwise.

touchline's producers send every event to its account's partition of the raw topic, so the
worker records it where it validates it and the `activities` topic stays empty; a producer that
does not route (e.g. round-robin batches of mixed accounts) still gets exact results through
the `activities` hop. Both on the real broker, worker and ClickHouse.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from tests.expectations import simulated
from tests.integration.test_restart import assert_exact
from touchline.produce import account_partition


def _end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    async def read() -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            ends = await consumer.end_offsets(tps)
            return {tp.partition: ends[tp] for tp in tps}
        finally:
            await consumer.stop()
    return asyncio.run(read())


def _raw_messages(bootstrap: str, topic: str, partitions: int) -> list[tuple[int, bytes]]:
    async def read() -> list[tuple[int, bytes]]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(
                [TopicPartition(topic, p) for p in range(partitions)])
            want, got = sum(ends.values()), []
            while len(got) < want:
                batch = await consumer.getmany(timeout_ms=1000)
                got += [(m.partition, m.value) for msgs in batch.values() for m in msgs]
            return got
        finally:
            await consumer.stop()
    return asyncio.run(read())


@pytest.mark.parametrize("concurrency", [1, 2])
def test_routed_batches_are_recorded_in_place(pipeline_factory, concurrency):
    truth = simulated(8_000, seed=51)
    p = pipeline_factory(concurrency=concurrency)
    k = p.settings.kafka
    p.produce(truth.payloads, batch=300)
    p.wait_until(lambda: p.scalar("SELECT count() FROM {db}.activities")
                 >= len(truth.unique_valid), 120, "all rows")
    p.wait_settled()
    assert_exact(p, truth)
    # every raw message holds events of its own partition only ...
    for partition, value in _raw_messages(k.bootstrap, k.raw_topic, k.partitions):
        lines = [ln for ln in value.split(b"\n") if ln.strip()]
        assert {account_partition(ln, k.partitions) for ln in lines} == {partition}
    # ... so nothing crossed the broker a second time
    assert sum(_end_offsets(k.bootstrap, k.activities_topic, k.partitions).values()) == 0
    rows_per_partition = dict(p.rows(
        "SELECT kafka_partition, count() FROM {db}.activities GROUP BY ALL"))
    accepted = dict(p.rows(
        "SELECT partition, sum(accepted) FROM {db}.pipeline_metrics WHERE topic = {t:String} "
        "GROUP BY ALL", t=k.activities_topic))
    assert rows_per_partition == accepted


def test_unrouted_batches_are_forwarded_and_exact(pipeline_factory):
    truth = simulated(8_000, seed=52)
    p = pipeline_factory()
    k = p.settings.kafka

    async def send_round_robin() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=k.bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(0, len(truth.payloads), 250):
                await producer.send_and_wait(k.raw_topic, b"\n".join(truth.payloads[i:i + 250]),
                                             partition=(i // 250) % k.partitions)
        finally:
            await producer.stop()

    asyncio.run(send_round_robin())
    p.wait_until(lambda: p.scalar("SELECT count() FROM {db}.activities")
                 >= len(truth.unique_valid), 120, "all rows")
    p.wait_settled()
    assert_exact(p, truth)
    forwarded = _end_offsets(k.bootstrap, k.activities_topic, k.partitions)
    assert all(n > 0 for n in forwarded.values()), forwarded
    # a row's kafka_partition is always its account's partition, whichever path it took
    wrong = p.scalar(
        "SELECT count() FROM {db}.activities "
        "WHERE kafka_partition != crc32(concat(tenant, '|', account_id)) % 4")
    assert wrong == 0
