"""The benchmark's load generator puts every message on the broker once, on its partition, in order.

`touchline.bench.stack.produce` fills record batches itself when it is not paced, and sends one
message at a time when it is (freshness): both ways must give the broker exactly the messages
the scenarios count on, one record each (one event per Kafka message stays one).
"""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from tests.harness import topic_records
from touchline.bench.stack import produce, route
from touchline.settings import KafkaSettings, Settings
from touchline.stack.topics_admin import ensure_topics

PARTITIONS = 4


def _messages(n: int) -> list[bytes]:
    return [orjson.dumps({"event_id": f"e{i}", "tenant": "acme", "account_id": f"acct-{i % 37}",
                          "pad": "x" * (i % 700)}) for i in range(n)]


@pytest.mark.integration
@pytest.mark.parametrize("paced", [False, True], ids=["batches", "paced"])
def test_every_message_lands_once_on_its_partition_in_order(kafka_bootstrap: str,
                                                            paced: bool) -> None:
    tag = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, raw_topic=f"produce-{tag}.raw",
                          activities_topic=f"produce-{tag}.act", dlq_topic=f"produce-{tag}.dlq",
                          partitions=PARTITIONS)
    ensure_topics(Settings(kafka=kafka))
    messages = _messages(3000 if paced else 12_000)  # batches: several full ones per partition
    targets = [route(m, PARTITIONS) for m in messages]
    asyncio.run(produce(kafka, messages, rate_events=20_000 if paced else None,
                        targets=targets))
    got: dict[int, list[bytes]] = {}
    for record in sorted(topic_records(kafka, kafka.raw_topic),
                         key=lambda r: (r.partition, r.offset)):
        got.setdefault(record.partition, []).append(record.value)
    wanted: dict[int, list[bytes]] = {}
    for message, partition in zip(messages, targets, strict=True):
        wanted.setdefault(partition, []).append(message)
    assert set(wanted) == set(range(PARTITIONS))
    assert got == wanted
