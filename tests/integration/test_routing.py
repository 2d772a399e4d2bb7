"""Where events are recorded: in place when producers route by account, forwarded otherwise.

touchline's producers send every event to its account's partition of the raw topic, so the
worker records it where it validates it and the `activities` topic stays empty; a producer that
does not route (e.g. round-robin batches of mixed accounts) still gets exact results through
the `activities` hop. Both on the real broker, worker and ClickHouse.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from tests.expectations import simulated
from tests.integration.test_restart import assert_exact
from touchline.load.produce import account_partition

pytestmark = pytest.mark.integration


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
    for partition, _, value in p.raw_messages():
        lines = [ln for ln in value.split(b"\n") if ln.strip()]
        assert {account_partition(ln, k.partitions) for ln in lines} == {partition}
    # ... so nothing crossed the broker a second time
    assert sum(p.end_offsets(k.activities_topic).values()) == 0
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
    forwarded = p.end_offsets(k.activities_topic)
    assert all(n > 0 for n in forwarded.values()), forwarded
    # a row's kafka_partition is always its account's partition, whichever path it took
    wrong = p.scalar(
        "SELECT count() FROM {db}.activities "
        "WHERE kafka_partition != crc32(concat(tenant, '|', account_id)) % 4")
    assert wrong == 0
