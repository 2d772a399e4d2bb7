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

The job's parts it shares with the framework peers are in `job.py`; it reports to the
benchmark (`contender.measure`) as they do.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from touchline.bench import contender
from touchline.bench.job import BATCH_EVENTS, Report, Row, Store, event_row, start, table

#: the command of the baseline's process
COMMAND = [sys.executable, "-m", "touchline.bench.handtuned"]


class Batch:
    """The rows of one insert, and the DLQ payloads of the same records."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.dead: list[bytes] = []
        self.events = 0

    def add(self, data: bytes, partition: int, offset: int, seen: set[str]) -> None:
        """Validate one event; a row, a dead letter, or nothing (a duplicate)."""
        self.events += 1
        try:
            row = event_row(data, partition, offset, seen)
        except ValidationError:
            self.dead.append(data)
            return
        if row is not None:
            self.rows.append(row)

    def table(self) -> pa.Table:
        """The rows as one Arrow block."""
        return table(self.rows)


async def run(args: argparse.Namespace, store: Store, report: Report) -> None:
    """Consume until `args.events` events were handled; report on stdout."""
    consumer = AIOKafkaConsumer(
        args.topic, bootstrap_servers=args.bootstrap, group_id=args.group,
        auto_offset_reset="earliest", enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=16 * 1024 * 1024)
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all")
    await producer.start()
    await consumer.start()
    seen: set[str] = set()
    max_records = max(1, BATCH_EVENTS // args.per_message)
    try:
        while not report.done:
            records = await consumer.getmany(timeout_ms=50, max_records=max_records)
            if not records:
                continue
            batch = Batch()
            for tp, msgs in records.items():
                for rec in msgs:
                    for line in rec.value.split(b"\n"):
                        if line:
                            batch.add(line, tp.partition, rec.offset, seen)
            sends = [await producer.send(args.dlq_topic, d) for d in batch.dead]
            await asyncio.to_thread(store.insert, batch.rows)
            await asyncio.gather(*sends)
            await consumer.commit()  # only past rows that are in ClickHouse
            report.add(len(batch.rows), len(batch.dead), batch.events)
    finally:
        done, cpu = time.monotonic(), time.process_time()
        await consumer.stop()
        await producer.stop()
    report.finish(store, done, cpu)
    store.close()


async def measure(root: Path, bootstrap: str, messages: list[bytes], warm: list[bytes],
                  per_message: int, partitions: int = 4) -> dict[str, Any]:
    """The baseline's rate and CPU on the same messages the touchline scenario gets."""
    return await contender.measure("hand-tuned", COMMAND, root, bootstrap, messages, warm,
                                   per_message, partitions)


def main(argv: list[str] | None = None) -> None:
    """Command line of the baseline process."""
    asyncio.run(run(*start(__doc__.splitlines()[0], argv)))


if __name__ == "__main__":
    sys.exit(main())
