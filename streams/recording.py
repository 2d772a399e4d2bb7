"""What record_activities does with one message of rows: dedup, lateness, stage visits.

`record_batch` is pure apart from the stage-history mapping it is given (a Faust table in
the worker, a dict in unit tests); the ClickHouse writes it plans run later via `write`.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from touchline.schemas.dead_letter import DeadLetter
from touchline.settings import PipelineSettings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.rows import (
    OPPORTUNITY_STATE_COLUMNS,
    STAGE_VISIT_COLUMNS,
    activities_json,
    arrow_table,
)
from touchline.streams import writer
from touchline.streams.dedup import HOUR_MS, DedupWindow
from touchline.streams.dwell import Change, add_change, visits
from touchline.streams.stage_memory import StageIndex

#: rows per `activities` insert: a backlog batch can hold hundreds of thousands of rows; the
#: store takes bodies up to 256 MB and ~30 MB of JSON is a comfortable block for ClickHouse
INSERT_BLOCK_ROWS = 50_000


@dataclass
class BatchResult:
    """The outcome of one message, and the inserts that make it durable."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    stage_visit_rows: list[dict[str, Any]] = field(default_factory=list)
    opportunity_rows: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0
    events_in: int = 0
    watermark: int = 0
    token: str = ""
    _activities_json: list[bytes] | None = field(default=None, repr=False)

    @classmethod
    def combine(cls, results: list[BatchResult]) -> BatchResult:
        """Several messages' results as one write (rows in message order).

        The token names the topic and each partition's offset range, so the same batch
        retried gives the same token (and the same blocks).
        """
        if len(results) == 1:
            return results[0]
        out = cls()
        spans: dict[tuple[str, int], list[int]] = {}
        for r in results:
            out.rows += r.rows
            out.stage_visit_rows += r.stage_visit_rows
            out.opportunity_rows += r.opportunity_rows
            topic, partition, offset = r.token.rsplit(":", 2)
            span = spans.setdefault((topic, int(partition)), [int(offset), int(offset)])
            span[0], span[1] = min(span[0], int(offset)), max(span[1], int(offset))
        out.token = ",".join(f"{t}:{p}:{lo}-{hi}" for (t, p), (lo, hi) in sorted(spans.items()))
        return out

    def write(self, sink: ClickHouseSink) -> None:
        """Stage data first, activities last: a crash before the last insert replays it all."""
        sink.insert("stage_visits", arrow_table(self.stage_visit_rows, STAGE_VISIT_COLUMNS),
                    f"{self.token}:visits")
        sink.insert("opportunity_state",
                    arrow_table(self.opportunity_rows, OPPORTUNITY_STATE_COLUMNS),
                    f"{self.token}:opps")
        if self._activities_json is None:  # built once: a retry sends the same blocks
            self._activities_json = [
                activities_json(self.rows[i:i + INSERT_BLOCK_ROWS])
                for i in range(0, len(self.rows), INSERT_BLOCK_ROWS)
            ]
        for i, block in enumerate(self._activities_json):
            suffix = f":{i}" if i else ""  # the first block keeps the plain token
            sink.insert_json("activities", block, f"{self.token}:activities{suffix}")


def record_batch(
    rows: list[dict[str, Any]],
    window: DedupWindow,
    watermark: int,
    rules: PipelineSettings,
    *,
    topic: str,
    partition: int,
    offset: int,
    stage_history: MutableMapping[str, list[Change]] | None = None,
    stage_index: StageIndex | None = None,
    now_ms: int | None = None,
) -> BatchResult:
    """Decide each row (accept, duplicate, late) and plan the writes."""
    now = now_ms if now_ms is not None else writer.now_ms()
    result = BatchResult(events_in=len(rows), watermark=watermark,
                         token=f"{topic}:{partition}:{offset}")
    lateness = rules.allowed_lateness_s * 1000
    cutoff = watermark - lateness if watermark else None
    for row in rows:
        # ids are unique per tenant: two tenants may use the same event_id
        event_id, occurred = f"{row['tenant']}|{row['event_id']}", row["occurred_at"]
        if event_id in window:
            result.duplicates += 1
            continue
        if cutoff is not None and occurred < cutoff:
            result.dead_letters.append(_late(row, watermark, rules, topic, partition, offset))
            continue
        window.add(event_id, occurred)
        row["ingested_at"], row["kafka_partition"], row["kafka_offset"] = now, partition, offset
        result.rows.append(row)
        if occurred > result.watermark:  # the watermark moves with every accepted event
            result.watermark = occurred
            cutoff = occurred - lateness
    if stage_history is not None:
        _stage_changes(result, stage_history, rules, now, stage_index, partition)
    return result


def _late(row: dict[str, Any], watermark: int, rules: PipelineSettings, topic: str,
          partition: int, offset: int) -> DeadLetter:
    behind_s = (watermark - row["occurred_at"]) / 1000
    return DeadLetter.of(
        orjson.dumps(row), "late",
        f"occurred_at is {behind_s:.0f}s behind the watermark; allowed lateness is "
        f"{rules.allowed_lateness_s}s (pipeline.allowed_lateness_s)",
        source_topic=topic, partition=partition, offset=offset,
        event_id=row["event_id"], tenant=row["tenant"],
        origin=row.get("_origin", ""), line_no=row.get("_line", 0),
    )


def _stage_changes(result: BatchResult, history: MutableMapping[str, list[Change]],
                   rules: PipelineSettings, now: int, index: StageIndex | None,
                   partition: int) -> None:
    touched: dict[str, list[Change]] = {}
    for row in result.rows:
        if row["type"] != "stage_change":
            continue
        key = f"{row['tenant']}|{row['opportunity_id']}"
        change = [row["occurred_at"], row["event_id"], row["from_stage"], row["to_stage"],
                  row["account_id"], row["rep_id"], row["team_id"]]
        merged, is_new = add_change(list(touched.get(key) or history.get(key) or []), change)
        if is_new:
            history[key] = merged
            if index is not None:
                index.note(partition, key, merged[-1][0])
        touched[key] = merged  # rewritten even if not new: a replay must restore the rows
    for key, changes in touched.items():
        tenant, opportunity_id = key.split("|", 1)
        latest = changes[-1]
        account, rep, team = latest[4], latest[5], latest[6]
        for visit in visits(changes):
            result.stage_visit_rows.append({
                "tenant": tenant, "opportunity_id": opportunity_id, "account_id": account,
                "rep_id": rep, "team_id": team, "stage": visit.stage,
                "entered_at": visit.entered_ms, "entered_event_id": visit.entered_event_id,
                "exited_at": visit.exited_ms, "next_stage": visit.next_stage,
                "dwell_s": visit.dwell_s, "version": now,
            })
        result.opportunity_rows.append({
            "tenant": tenant, "opportunity_id": opportunity_id, "account_id": account,
            "rep_id": rep, "team_id": team, "current_stage": latest[3],
            "stage_entered_at": latest[0], "first_seen_at": changes[0][0],
            "stage_changes": len(changes), "is_closed": int(latest[3] in rules.closed_stages),
            "version": now,
        })


class PartitionWindows:
    """Dedup windows per partition, loaded from ClickHouse on first use after (re)assignment."""

    def __init__(self, bucket_ms: int = HOUR_MS) -> None:
        self.bucket_ms = bucket_ms
        self._windows: dict[int, DedupWindow] = {}
        self._loading: dict[int, asyncio.Lock] = {}

    async def get(self, partition: int, cutoff_ms: int | None = None) -> DedupWindow:
        """The partition's window, reading accepted ids back from ClickHouse if needed.

        Two agents record into the same partitions, so a reload is done once under a lock:
        a second loader must not replace a window the first one has added ids to since.
        """
        window = self._windows.get(partition)
        if window is not None:
            return window
        async with self._loading.setdefault(partition, asyncio.Lock()):
            window = self._windows.get(partition)
            if window is None:
                window = DedupWindow(self.bucket_ms)
                rows = await writer.write(
                    lambda sink: load_accepted(sink, partition, cutoff_ms), "dedup reload"
                )
                window.load(rows)
                self._windows[partition] = window
        return window

    def evict(self, partition: int, before_ms: int) -> None:
        """Drop ids older than `before_ms` from a loaded partition window."""
        window = self._windows.get(partition)
        if window is not None:
            window.evict_before(before_ms)

    def forget(self, partition: int) -> None:
        """Drop a partition's window (it moved to another worker)."""
        self._windows.pop(partition, None)


def load_accepted(sink: ClickHouseSink, partition: int,
                  cutoff_ms: int | None) -> list[tuple[str, int]]:
    """("tenant|event_id", occurred_ms) of rows accepted from one partition, after cutoff."""
    sql = (
        f"SELECT concat(tenant, '|', event_id), toUnixTimestamp64Milli(occurred_at) "
        f"FROM {sink.table('activities')} "
        "WHERE kafka_partition = {p:UInt16}"
    )
    params: dict[str, Any] = {"p": partition}
    if cutoff_ms is not None:
        sql += " AND occurred_at >= fromUnixTimestamp64Milli({cutoff:Int64}, 'UTC')"
        params["cutoff"] = cutoff_ms
    return [(r[0], int(r[1])) for r in sink.query(sql, params, readonly=True).rows]
