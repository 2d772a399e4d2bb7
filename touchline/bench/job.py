"""The job every contender of the benchmark does, written once: touchline's job without touchline.

Validate each event with the pydantic adapter the worker uses; an invalid one is a dead letter;
drop duplicates on `tenant|event_id`; insert the rows into ClickHouse (chdb, in the
contender's process), where two materialized views count touches per rep-day and per
account-day; commit offsets only after the insert. The hand-tuned pipeline (`handtuned.py`)
and the framework peers (`peers/`) call `event_row` for each event and `Store` for the rest,
so they differ only in how they consume, keep state, batch and commit.

A contender process speaks to the benchmark with `Report`: one JSON line once it has handled
the warm-up events (its consumer owns its partitions, its engine is open), one once it has
handled the measured events; CLOCK_MONOTONIC is shared by the processes of one machine.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa
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
ARROW_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("tenant", pa.string()), ("type", pa.string()),
    ("occurred_at", pa.timestamp("ms", tz="UTC")), ("rep_id", pa.string()),
    ("team_id", pa.string()), ("account_id", pa.string()), ("prospect_id", pa.string()),
    ("opportunity_id", pa.string()), ("channel", pa.string()), ("is_touch", pa.uint8()),
    ("kafka_partition", pa.uint16()), ("kafka_offset", pa.uint64()),
])
COLUMNS = tuple(ARROW_SCHEMA.names)
#: a row of `hand.activities`, in `COLUMNS` order
Row = tuple[Any, ...]


def event_row(data: bytes, partition: int, offset: int, seen: set[str]) -> Row | None:
    """The row of one event, or None for a duplicate (its key is added to `seen`).

    Raises pydantic's ValidationError for an invalid event: the caller dead-letters it.
    """
    ev = activity_adapter.validate_json(data)
    key = f"{ev.tenant}|{ev.event_id}"
    if key in seen:
        return None
    seen.add(key)
    return (ev.event_id, ev.tenant, ev.type, ev.occurred_at, ev.rep_id, ev.team_id,
            ev.account_id, ev.prospect_id or "", ev.opportunity_id or "", ev.channel,
            1 if ev.is_touch else 0, partition, offset)


#: what a framework peer's validation step hands on for an invalid event, beside ("row", row)
DEAD = "dead"


class Judge:
    """A framework peer's validation step: one event at a time, counted until an insert.

    Peers validate each event where their framework hands it over and insert later, in a
    sink; `taken` gives the counts of the events judged since, for `Report.add`.
    """

    def __init__(self, seen: set[str] | Any) -> None:
        self.seen = seen  # anything with `in` and `add`: a set, or a framework's table
        self.read = self.dead = 0

    def __call__(self, data: bytes, partition: int, offset: int) -> tuple[str, Any] | None:
        """("row", its row), (DEAD, the event) when invalid, or None for a duplicate."""
        self.read += 1
        try:
            row = event_row(data, partition, offset, self.seen)
        except ValidationError:
            self.dead += 1
            return DEAD, data
        return None if row is None else ("row", row)

    def taken(self) -> tuple[int, int]:
        """The dead letters and events read since the last call."""
        counts, self.dead, self.read = (self.dead, self.read), 0, 0
        return counts


def table(rows: Sequence[Row]) -> pa.Table:
    """The rows as one Arrow block."""
    columns = zip(*rows, strict=True) if rows else ([] for _ in COLUMNS)
    return pa.Table.from_arrays([pa.array(list(col), type=f.type)
                                 for col, f in zip(columns, ARROW_SCHEMA, strict=True)],
                                schema=ARROW_SCHEMA)


def arguments(description: str) -> argparse.ArgumentParser:
    """The options `contender.measure` passes every contender process."""
    p = argparse.ArgumentParser(description=description)
    for name in ("--bootstrap", "--topic", "--dlq-topic", "--group", "--data-dir"):
        p.add_argument(name, required=True)
    p.add_argument("--partitions", type=int, required=True, help="the raw topic's partitions")
    p.add_argument("--warm", type=int, required=True, help="warm-up events sent first")
    p.add_argument("--events", type=int, required=True, help="events measured after them")
    p.add_argument("--per-message", type=int, default=200, help="events per raw message")
    return p


def start(description: str, argv: list[str] | None) -> tuple[argparse.Namespace, Store, Report]:
    """A contender's options, its store (the schema made) and its report."""
    args = arguments(description).parse_args(argv)
    return args, Store(args.data_dir), Report(args.warm, args.events)


#: events a contender takes into one insert at most (~one fetch of the hand-tuned pipeline)
BATCH_EVENTS = 20_000


class Store:
    """The contender's ClickHouse: chdb in this process, through clickhouse-connect."""

    def __init__(self, data_dir: str) -> None:
        import clickhouse_connect

        self.client = clickhouse_connect.get_client(dsn=f"chdb://{data_dir}")
        for sql in SCHEMA:
            self.client.command(sql)

    def insert(self, rows: Sequence[Row]) -> None:
        """One insert of `rows` (nothing for none)."""
        if rows:
            self.client.insert_arrow("hand.activities", table(rows))

    def totals(self) -> dict[str, int]:
        """Rows stored and touches counted by rep-day, for the benchmark's check."""
        count = self.client.query("SELECT count() FROM hand.activities").result_rows[0][0]
        touches = self.client.query(
            "SELECT sum(touches) FROM hand.touches_by_rep_day").result_rows[0][0]
        return {"rows_in_table": int(count), "touches": int(touches)}

    def close(self) -> None:
        """Close the engine's client."""
        self.client.close()


class Report:
    """Counts a contender's handled events and tells the benchmark when a phase is done.

    An event is handled once its row is inserted or its dead letter sent; a duplicate read
    again after a rejoin is not counted, so the counts stay exact.
    """

    def __init__(self, warm: int, events: int) -> None:
        self.warm, self.target = True, warm
        self.events = events
        self.handled = self.rows = self.read = 0

    def add(self, rows: int, dead: int, read: int) -> None:
        """A batch is in ClickHouse and its dead letters are sent."""
        self.handled += rows + dead
        self.rows += rows
        self.read += read
        if self.warm and self.handled >= self.target:
            self.warm, self.target = False, self.events
            self.handled = self.rows = self.read = 0
            self.line(warm_monotonic=time.monotonic(), cpu_s=time.process_time())

    @property
    def done(self) -> bool:
        """Every measured event is handled."""
        return not self.warm and self.handled >= self.target

    def finish(self, store: Store, at: float, cpu_s: float) -> None:
        """The last line: when the measured events were handled, and the store's totals."""
        self.line(done_monotonic=at, cpu_s=cpu_s, events=self.handled,
                  events_read=self.read, rows=self.rows, **store.totals())

    def leave(self, store: Store) -> None:
        """The last line now, then end the process (for a framework that never returns)."""
        self.finish(store, time.monotonic(), time.process_time())
        store.close()
        os._exit(0)

    @staticmethod
    def line(**values: Any) -> None:
        """One JSON line to the benchmark."""
        print(orjson.dumps(values).decode(), flush=True)
