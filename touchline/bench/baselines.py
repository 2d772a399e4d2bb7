"""The physical limits, measured in the same run: broker in/out, JSON parse, pydantic, chdb."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from touchline.bench.stack import Scenario, produce
from touchline.schemas.activity import activity_adapter
from touchline.schemas.activity_row import activity_row
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.rows import activities_table


async def raw_produce(scenario: Scenario, messages: list[bytes], per_message: int) -> dict:
    """Aiokafka batch produce of the benchmark's messages into a fresh topic."""
    k = scenario.settings.kafka
    seconds = await produce(k, messages)
    events = len(messages) * per_message
    return {"messages": len(messages), "events": events, "seconds": round(seconds, 3),
            "messages_per_s": round(len(messages) / seconds),
            "events_per_s": round(events / seconds)}


async def raw_consume(scenario: Scenario, expected_messages: int) -> dict:
    """Aiokafka consume of that topic + orjson parse of every event; nothing else."""
    k = scenario.settings.kafka
    consumer = AIOKafkaConsumer(
        k.raw_topic, bootstrap_servers=k.bootstrap, group_id=f"{k.raw_topic}-raw",
        auto_offset_reset="earliest", enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=16 * 1024 * 1024)
    await consumer.start()
    msgs = events = 0
    started = None
    try:
        while msgs < expected_messages:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if started is None and batch:
                started = time.monotonic()
            for records in batch.values():
                for rec in records:
                    msgs += 1
                    for line in rec.value.split(b"\n"):
                        orjson.loads(line)
                        events += 1
        seconds = time.monotonic() - (started or time.monotonic())
    finally:
        await consumer.stop()
    return {"messages": msgs, "events": events, "seconds": round(seconds, 3),
            "messages_per_s": round(msgs / seconds), "events_per_s": round(events / seconds)}


def pydantic_validate(payloads: list[bytes]) -> dict:
    """`activity_adapter.validate_json` on each payload's raw bytes (one call per event)."""
    started = time.perf_counter()
    for p in payloads:
        activity_adapter.validate_json(p)
    seconds = time.perf_counter() - started
    return {"events": len(payloads), "seconds": round(seconds, 3),
            "events_per_s": round(len(payloads) / seconds)}


def chdb_insert(payloads: list[bytes], block_rows: int = 50_000) -> dict:
    """insert_arrow into `activities` (with its MV) on the embedded engine, in this process."""
    rows: list[dict[str, Any]] = []
    for i, p in enumerate(payloads):
        row = activity_row(activity_adapter.validate_json(p))
        row.update(ingested_at=row["occurred_at"], kafka_partition=0, kafka_offset=i)
        rows.append(row)
    blocks = [activities_table(rows[i:i + block_rows]) for i in range(0, len(rows), block_rows)]
    with tempfile.TemporaryDirectory(prefix="tl-bench-chdb-") as tmp:
        sink = ClickHouseSink(f"chdb://{Path(tmp).resolve()}").start()
        try:
            sink.ensure_schema()
            started = time.perf_counter()
            for i, block in enumerate(blocks):
                sink.insert("activities", block, f"bench:{i}")
            seconds = time.perf_counter() - started
            assert sink.query("SELECT count() FROM touchline.activities").scalar() == len(rows)
        finally:
            sink.close()
    return {"rows": len(rows), "block_rows": block_rows, "seconds": round(seconds, 3),
            "rows_per_s": round(len(rows) / seconds)}
