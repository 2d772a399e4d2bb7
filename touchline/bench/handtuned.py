"""The hand-tuned baseline pipeline: plain aiokafka + pydantic + chdb doing touchline's job.

Run as its own process (`python -m touchline.bench.handtuned ...`) so the benchmark can read
its CPU time apart from everything else. It does what a worker does, with nothing Faust or
touchline adds around it:

- consume the raw topic in bulk (`getmany`), split JSONL, validate every event with the same
  pydantic adapter the worker uses;
- send each invalid event to the DLQ topic (acks=all);
- drop duplicates on `tenant|event_id` (an in-memory set);
- insert the batch's rows into ClickHouse (chdb, in this process) as one Arrow block per
  batch; two materialized views count touches per rep-day and per account-day;
- commit the batch's offsets only after the insert returned and every DLQ send was acked.

It prints one JSON line when it has handled the `--warm` events the benchmark sends first
(`{"warm_monotonic": ...}`: the consumer owns its partitions, the engine is open) and one when
it has handled `--events` more (`{"done_monotonic": ...}`), then exits. CLOCK_MONOTONIC is
shared by the
processes of one machine, so the benchmark compares it with its own first-produce time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from touchline.schemas.activity import activity_adapter

SCHEMA = [
    "CREATE DATABASE IF NOT EXISTS hand",
    """CREATE TABLE IF NOT EXISTS hand.activities (
        event_id String, tenant LowCardinality(String), type LowCardinality(String),
        occurred_at DateTime64(3, 'UTC'), rep_id String, team_id String, account_id String,
        prospect_id String, opportunity_id String, channel LowCardinality(String),
        is_touch UInt8, kafka_partition UInt16, kafka_offset UInt64
    ) ENGINE = MergeTree ORDER BY (tenant, account_id, occurred_at)""",
    """CREATE TABLE IF NOT EXISTS hand.touches_by_rep_day (
        tenant LowCardinality(String), rep_id String, day Date, touches UInt64
    ) ENGINE = SummingMergeTree(touches) ORDER BY (tenant, rep_id, day)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS hand.touches_by_rep_day_mv
        TO hand.touches_by_rep_day AS
        SELECT tenant, rep_id, toDate(occurred_at) AS day, count() AS touches
        FROM hand.activities WHERE is_touch GROUP BY tenant, rep_id, day""",
    """CREATE TABLE IF NOT EXISTS hand.touches_by_account_day (
        tenant LowCardinality(String), account_id String, day Date, touches UInt64
    ) ENGINE = SummingMergeTree(touches) ORDER BY (tenant, account_id, day)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS hand.touches_by_account_day_mv
        TO hand.touches_by_account_day AS
        SELECT tenant, account_id, toDate(occurred_at) AS day, count() AS touches
        FROM hand.activities WHERE is_touch GROUP BY tenant, account_id, day""",
]
COLUMNS = ("event_id", "tenant", "type", "occurred_at", "rep_id", "team_id", "account_id",
           "prospect_id", "opportunity_id", "channel", "is_touch", "kafka_partition",
           "kafka_offset")
ARROW_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("tenant", pa.string()), ("type", pa.string()),
    ("occurred_at", pa.timestamp("ms", tz="UTC")), ("rep_id", pa.string()),
    ("team_id", pa.string()), ("account_id", pa.string()), ("prospect_id", pa.string()),
    ("opportunity_id", pa.string()), ("channel", pa.string()), ("is_touch", pa.uint8()),
    ("kafka_partition", pa.uint16()), ("kafka_offset", pa.uint64()),
])


class Batch:
    """Column lists of one insert, and the DLQ payloads of the same records."""

    def __init__(self) -> None:
        self.columns: list[list[Any]] = [[] for _ in COLUMNS]
        self.dead: list[bytes] = []
        self.events = 0

    def add(self, data: bytes, partition: int, offset: int, seen: set[str]) -> None:
        """Validate one event; a row, a dead letter, or nothing (a duplicate)."""
        self.events += 1
        try:
            ev = activity_adapter.validate_json(data)
        except ValidationError:
            self.dead.append(data)
            return
        key = f"{ev.tenant}|{ev.event_id}"
        if key in seen:
            return
        seen.add(key)
        c = self.columns
        c[0].append(ev.event_id)
        c[1].append(ev.tenant)
        c[2].append(ev.type)
        c[3].append(ev.occurred_at)
        c[4].append(ev.rep_id)
        c[5].append(ev.team_id)
        c[6].append(ev.account_id)
        c[7].append(ev.prospect_id or "")
        c[8].append(ev.opportunity_id or "")
        c[9].append(ev.channel)
        c[10].append(1 if ev.is_touch else 0)
        c[11].append(partition)
        c[12].append(offset)

    def table(self) -> pa.Table:
        """The rows as one Arrow block."""
        return pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in
                                     zip(self.columns, ARROW_SCHEMA, strict=True)],
                                    schema=ARROW_SCHEMA)


async def run(args: argparse.Namespace) -> None:
    """Consume until `args.events` events were handled; report on stdout."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=f"chdb://{args.data_dir}")
    for sql in SCHEMA:
        client.command(sql)
    consumer = AIOKafkaConsumer(
        args.topic, bootstrap_servers=args.bootstrap, group_id=args.group,
        auto_offset_reset="earliest", enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=16 * 1024 * 1024)
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all")
    await producer.start()
    await consumer.start()
    seen: set[str] = set()
    handled = rows = read = 0
    warm, target = True, args.warm
    try:
        while warm or handled < target:
            records = await consumer.getmany(timeout_ms=50, max_records=args.max_records)
            if not records:
                continue
            batch = Batch()
            for tp, msgs in records.items():
                for rec in msgs:
                    for line in rec.value.split(b"\n"):
                        if line:
                            batch.add(line, tp.partition, rec.offset, seen)
            sends = [await producer.send(args.dlq_topic, d) for d in batch.dead]
            table = batch.table()
            if table.num_rows:
                await asyncio.to_thread(client.insert_arrow, "hand.activities", table)
            await asyncio.gather(*sends)
            await consumer.commit()  # only past rows that are in ClickHouse
            # events read again after a rejoin are duplicates: only new rows and dead letters
            # count towards the events expected
            handled += table.num_rows + len(batch.dead)
            read += batch.events
            rows += table.num_rows
            if warm and handled >= target:
                warm, target = False, args.events
                handled = rows = read = 0
                print(orjson.dumps({"warm_monotonic": time.monotonic(),
                                    "cpu_s": time.process_time()}).decode(), flush=True)
    finally:
        done = time.monotonic()
        cpu = time.process_time()
        await consumer.stop()
        await producer.stop()
    count = client.query("SELECT count() FROM hand.activities").result_rows[0][0]
    touches = client.query("SELECT sum(touches) FROM hand.touches_by_rep_day").result_rows[0][0]
    client.close()
    print(orjson.dumps({"done_monotonic": done, "cpu_s": cpu, "events": handled,
                        "events_read": read, "rows": rows, "rows_in_table": count,
                        "touches": touches}).decode(),
          flush=True)


async def measure(root: Path, bootstrap: str, messages: list[bytes], warm: list[bytes],
                  per_message: int, partitions: int = 4) -> dict[str, Any]:
    """Run the baseline process on a fresh topic fed with `messages`; its rate and CPU.

    The same messages the touchline scenario gets, produced by the same producer; the clock
    runs from the first produce to the baseline's report that every event is handled.
    """
    from touchline.bench.machine import cpu_seconds
    from touchline.bench.stack import BenchError, Scenario, produce, route
    from touchline.stack.topics_admin import delete_topics, ensure_topics, pipeline_topics

    sc = Scenario(root, bootstrap, partitions)
    k = sc.settings.kafka
    ensure_topics(sc.settings)
    data = root / f"hand-{k.raw_topic}"
    data.mkdir(parents=True)
    n_warm = sum(m.count(b"\n") + 1 for m in warm)
    events = len(messages) * per_message
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "touchline.bench.handtuned", "--bootstrap", bootstrap,
        "--topic", k.raw_topic, "--dlq-topic", k.dlq_topic, "--group", f"{k.raw_topic}-hand",
        "--data-dir", str(data), "--warm", str(n_warm), "--events", str(events),
        "--max-records", str(max(1, 20_000 // per_message)),
        stdout=asyncio.subprocess.PIPE)

    async def line(timeout: float) -> dict[str, Any]:
        assert proc.stdout is not None
        raw = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not raw:
            raise BenchError(f"hand-tuned baseline exited with {await proc.wait()}")
        return orjson.loads(raw)

    try:
        await produce(k, warm)
        ready = await line(180.0)
        targets = [route(m, partitions) for m in messages]
        broker0 = cpu_seconds(sc.broker_pid) if sc.broker_pid else 0.0
        t0 = time.monotonic()
        send = asyncio.create_task(produce(k, messages, targets=targets))
        done = await line(1800.0)
        produce_s = await send
        broker1 = cpu_seconds(sc.broker_pid) if sc.broker_pid else 0.0
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(Exception):
            delete_topics(sc.settings, list(pipeline_topics(sc.settings)))
    if done["rows_in_table"] != n_warm + events or done["events"] != events:
        raise BenchError(f"hand-tuned baseline: {done} for {events} events")
    seconds = done["done_monotonic"] - t0
    cpu = {"hand-tuned": done["cpu_s"] - ready["cpu_s"], "broker": broker1 - broker0}
    return {
        "events": events, "events_read": done["events_read"],
        "events_per_message": per_message, "seconds": round(seconds, 3),
        "produce_seconds": round(produce_s, 3),
        "events_per_s": round(events / seconds), "rows": done["rows"],
        "touches_by_rep_day": done["touches"],
        "cpu_seconds": {p: round(v, 3) for p, v in cpu.items()},
        "cpu_us_per_event": {p: round(v / events * 1e6, 1) for p, v in cpu.items()},
    }


def main(argv: list[str] | None = None) -> None:
    """Command line of the baseline process."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--dlq-topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--warm", type=int, required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--max-records", type=int, default=5000,
                   help="messages per getmany (the benchmark passes ~20k events' worth)")
    asyncio.run(run(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
