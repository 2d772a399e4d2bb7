"""A worker's fetches ask the broker to hold them no longer than `kafka.fetch_max_wait_ms`.

Faust creates its consumer with `fetch_max_wait_ms=1500`, and aiokafka sends one fetch at a
time to a broker. Apache Kafka holds a fetch of partitions with nothing new for that long, so a
worker that had fallen behind fetched its busy partitions once every ~2 s and stayed 2-3 s behind
(streams/fetch_backoff.py). Here a consumer is created as Faust creates it, after the worker's
patch is installed with the default setting, and every FetchRequest it sends the real broker (an
empty partition, so the broker may hold each) is read back: each must carry the setting's wait.
On a broker marked `broker_semantics`, this runs on noida-db and on Apache Kafka.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.protocol.fetch import FetchRequest, FetchRequest_v4

from touchline.settings import KafkaSettings
from touchline.streams import fetch_backoff

pytestmark = [pytest.mark.integration, pytest.mark.broker_semantics]

#: what Faust 0.15.3 passes (faust/transport/drivers/aiokafka.py, `_create_worker_consumer`)
FAUST_MAX_WAIT_MS = 1500


async def _max_waits_sent(bootstrap: str) -> list[int]:
    topic = f"fetch-wait-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest",
                                fetch_max_wait_ms=FAUST_MAX_WAIT_MS)
    await consumer.start()
    waits: list[int] = []
    send = consumer._client.send

    async def recording(node_id, request, *args, **kwargs):
        if isinstance(request, FetchRequest):
            waits.append(request.build(FetchRequest_v4).max_wait_time)
        return await send(node_id, request, *args, **kwargs)

    consumer._client.send = recording
    try:
        consumer.assign([TopicPartition(topic, 0)])
        for _ in range(3):
            assert await consumer.getmany(timeout_ms=400) == {}
    finally:
        await consumer.stop()
    return waits


def test_every_fetch_asks_for_the_settings_wait_not_faust_s(kafka_bootstrap):
    setting = KafkaSettings().fetch_max_wait_ms
    assert setting == 100 < FAUST_MAX_WAIT_MS
    fetch_backoff.install(0.0, setting)  # as the worker does (streams/app.py), no pause
    try:
        waits = asyncio.run(_max_waits_sent(kafka_bootstrap))
    finally:
        fetch_backoff.install(0.0, None)  # this process's later consumers as they are created
    assert waits and set(waits) == {setting}, waits
