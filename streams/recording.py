"""What record_activities does with one message of rows: dedup, lateness, stage visits.

`record_batch` is pure apart from the stage-history mapping it is given (a Faust table in
the worker, a dict in unit tests); the ClickHouse writes it plans run later via `write`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from touchline.settings import PipelineSettings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.rows import (
    OPPORTUNITY_STATE_COLUMNS,
    STAGE_VISIT_COLUMNS,
    accepted_events_json,
    activities_json,
    arrow_table,
)
from touchline.streams import writer
from touchline.streams.dedup import HOUR_MS, DedupWindow
from touchline.streams.dwell import (
    Change,
    change_extras,
    change_outcome,
    current_stage_entered,
    merge,
    split,
    truncate,
    visits,
)
from touchline.streams.stage_memory import StageIndex

#: rows per `activities` insert: a backlog batch can hold hundreds of thousands of rows; the
#: store takes bodies up to 256 MB and ~30 MB of JSON is a comfortable block for ClickHouse
INSERT_BLOCK_ROWS = 50_000
#: event ids per stored-duplicate lookup of old rows
STORED_CHUNK = 20_000


@dataclass
class BatchResult:
    """The outcome of one partition's messages, and the inserts that make it durable."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    stage_visit_rows: list[dict[str, Any]] = field(default_factory=list)
    opportunity_rows: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    events_in: int = 0
    watermark: int = 0
    token: str = ""
    _activities_json: list[tuple[str, bytes]] | None = field(default=None, repr=False)

    @classmethod
    def combine(cls, results: list[BatchResult]) -> BatchResult:
        """Several results as one write (rows in the order of the results).

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
            topic, partition, offsets = r.token.rsplit(":", 2)
            first, _, last = offsets.partition("-")
            lo, hi = int(first), int(last or first)
            span = spans.setdefault((topic, int(partition)), [lo, hi])
            span[0], span[1] = min(span[0], lo), max(span[1], hi)
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
            self._activities_json = self._blocks()
        for i, (table, block) in enumerate(self._activities_json):
            suffix = f":{i}" if i else ""  # the first block keeps the plain token
            sink.insert_json(table, block, f"{self.token}:{table}{suffix}")

    def _blocks(self) -> list[tuple[str, bytes]]:
        """(table, JSON block) of the rows, at most `INSERT_BLOCK_ROWS` rows a block.

        Their lines go to `accepted_events`; rows without one (forwarded by a worker of a
        version before migration 0053) to `activities`, as they are.
        """
        lines: list[dict[str, Any]] = []
        whole: list[dict[str, Any]] = []
        for row in self.rows:
            (lines if "_event_json" in row else whole).append(row)
        return [(table, encode(part[i:i + INSERT_BLOCK_ROWS]))
                for table, encode, part in (("accepted_events", accepted_events_json, lines),
                                            ("activities", activities_json, whole))
                for i in range(0, len(part), INSERT_BLOCK_ROWS)]


def record_batch(
    rows: list[dict[str, Any]],
    windows: dict[str, DedupWindow],
    rules: PipelineSettings,
    *,
    topic: str,
    partition: int,
    offset: int,
    first_offset: int | None = None,
    stored: set[str] | frozenset[str] = frozenset(),
    stage_history: MutableMapping[str, list[Change]] | None = None,
    stage_index: StageIndex | None = None,
    now_ms: int | None = None,
) -> BatchResult:
    """Decide each row (accept or duplicate) and plan the writes.

    `rows` are the rows of the messages `first_offset`..`offset` of one partition (just
    `offset` when `first_offset` is None), in offset order. A row that carries its
    message's `kafka_offset` keeps it; the others get `offset`.

    `windows` holds each tenant's dedup window on this partition (its watermark included).
    An event within the allowed lateness of its tenant's watermark is checked against the
    window; an older one (history loaded into a running pipeline) against `stored`, the
    "tenant|event_id" keys of such rows already in ClickHouse, and the window (a copy in a
    batch still being written). Nothing is rejected for its age.
    """
    now = now_ms if now_ms is not None else writer.now_ms()
    span = str(offset) if first_offset in (None, offset) else f"{first_offset}-{offset}"
    result = BatchResult(events_in=len(rows), token=f"{topic}:{partition}:{span}")
    lateness = rules.allowed_lateness_s * 1000
    accepted = result.rows
    watermark = 0
    for row in rows:
        # ids are unique per tenant: two tenants may use the same event_id
        tenant = row["tenant"]
        event_id, occurred = f"{tenant}|{row['event_id']}", row["occurred_at"]
        window = windows[tenant]
        if event_id in window or event_id in stored:
            result.duplicates += 1
            continue
        window.accept(event_id, occurred, lateness)
        row["ingested_at"], row["kafka_partition"] = now, partition
        if "kafka_offset" not in row:
            row["kafka_offset"] = offset
        accepted.append(row)
        if occurred > watermark:
            watermark = occurred
    result.watermark = watermark
    if stage_history is not None:
        _stage_changes(result, stage_history, now, stage_index, partition)
    return result


def _stage_changes(result: BatchResult, history: MutableMapping[str, list[Change]],
                   now: int, index: StageIndex | None, partition: int) -> None:
    """Merge each opportunity's changes of this batch and plan the rows they change.

    One merge per opportunity per batch, and only the visits from the one before its earliest
    change of the batch on are rewritten (a replay rewrites the rows it may have lost), so the
    work per batch is bounded by `KEPT_CHANGES`, not by how many changes a deal ever had.
    """
    new: dict[str, list[Change]] = {}
    for row in result.rows:
        if row["type"] == "stage_change":
            new.setdefault(f"{row['tenant']}|{row['opportunity_id']}", []).append([
                row["occurred_at"], row["event_id"], row["from_stage"], row["to_stage"],
                row["account_id"], row["rep_id"], row["team_id"], row["is_closed"],
                row["is_won"], row["vendor_stage"], row["editor_id"]])
    for key, changes in new.items():
        stored = history.get(key) or []
        summary, _ = split(stored)
        merged, first, is_new = merge(stored, changes)
        if is_new:
            history[key] = truncate(summary, merged)
            if index is not None:
                index.note(partition, key, merged[-1][0])
        tenant, opportunity_id = key.split("|", 1)
        latest = merged[-1]
        owner = {"tenant": tenant, "opportunity_id": opportunity_id, "account_id": latest[4],
                 "rep_id": latest[5], "team_id": latest[6], "version": now}
        start = max(first - 1, 0)
        for change, visit in zip(merged[start:], visits(merged, start), strict=True):
            closed, won = change_outcome(change)
            result.stage_visit_rows.append({
                **owner, "stage": visit.stage,
                "entered_at": visit.entered_ms, "entered_event_id": visit.entered_event_id,
                "exited_at": visit.exited_ms, "next_stage": visit.next_stage,
                "dwell_s": visit.dwell_s, "is_closed": int(closed), "is_won": int(won),
                "vendor_stage": change_extras(change)[0],
            })
        closed, won = change_outcome(latest)
        vendor_stage, editor = change_extras(latest)
        result.opportunity_rows.append({
            **owner, "current_stage": latest[3],
            "stage_entered_at": current_stage_entered(merged),
            "first_seen_at": summary[0] if summary is not None else merged[0][0],
            "stage_changes": (summary[2] if summary is not None else 0) + len(merged),
            "is_closed": int(closed), "is_won": int(won),
            "vendor_stage": vendor_stage, "editor_id": editor,
        })


class TenantWindows:
    """Dedup windows per partition and tenant, loaded from ClickHouse on first use.

    Each tenant has its own watermark on a partition, so one tenant's live events never make
    another tenant's events old (and send them to the slower stored check).

    Eviction lags: a batch decides which of its rows are old (checked against the store)
    before it records them, and up to `in_flight` other batches may finish and evict
    meanwhile. Each eviction therefore drops only what was already older than the cutoff
    `in_flight` evictions ago, so a row that was recent when its batch looked is still in the
    window when the batch records it.
    """

    def __init__(self, lateness_ms: int, bucket_ms: int = HOUR_MS, in_flight: int = 1) -> None:
        self.lateness_ms = lateness_ms
        self.bucket_ms = bucket_ms
        self._windows: dict[int, dict[str, DedupWindow]] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        self._cutoffs: dict[tuple[int, str], deque[int]] = {}
        self._lag = in_flight + 1

    async def get(self, partition: int, tenants: Iterable[str]) -> dict[str, DedupWindow]:
        """The partition's windows of these tenants, reading ids back from ClickHouse if needed.

        Two agents record into the same partitions, so loads are done under a lock: a
        second loader must not replace a window the first one has added ids to since.
        """
        loaded = self._windows.setdefault(partition, {})
        missing = [t for t in set(tenants) if t not in loaded]
        if missing:
            async with self._loading.setdefault(partition, asyncio.Lock()):
                missing = [t for t in missing if t not in loaded]
                if missing:
                    found = await writer.write(
                        lambda sink: load_accepted(sink, partition, missing, self.lateness_ms),
                        "dedup reload")
                    for tenant in missing:
                        window = DedupWindow(self.bucket_ms)
                        window.load(found.get(tenant, []))
                        loaded[tenant] = window
        return loaded

    def evict(self, partition: int) -> None:
        """Drop ids older than each tenant's (watermark - lateness) some evictions ago."""
        for tenant, window in self._windows.get(partition, {}).items():
            cutoffs = self._cutoffs.setdefault((partition, tenant), deque(maxlen=self._lag))
            cutoffs.append(window.watermark - self.lateness_ms)
            if len(cutoffs) == self._lag:
                window.evict_before(cutoffs[0])

    def forget(self, partition: int) -> None:
        """Drop a partition's windows (it moved to another worker)."""
        for tenant in self._windows.pop(partition, {}):
            self._cutoffs.pop((partition, tenant), None)


def load_accepted(sink: ClickHouseSink, partition: int, tenants: list[str],
                  lateness_ms: int) -> dict[str, list[tuple[str, int]]]:
    """Per tenant, ("tenant|event_id", occurred_ms) of rows accepted from one partition.

    Only the rows within the allowed lateness of the tenant's latest row there: that latest
    row is the tenant's watermark on the partition (rows are durable before it moves).
    """
    table = sink.table("activities")
    rows = sink.query(
        f"SELECT a.tenant, concat(a.tenant, '|', a.event_id), "
        f"toUnixTimestamp64Milli(a.occurred_at) FROM {table} AS a "
        f"INNER JOIN (SELECT tenant, max(occurred_at) AS latest FROM {table} "
        "  WHERE kafka_partition = {p:UInt16} AND tenant IN {tenants:Array(String)} "
        "  GROUP BY tenant) AS w ON a.tenant = w.tenant "
        "WHERE a.kafka_partition = {p:UInt16} AND a.tenant IN {tenants:Array(String)} "
        "AND a.occurred_at >= w.latest - toIntervalMillisecond({lateness:Int64})",
        {"p": partition, "tenants": tenants, "lateness": lateness_ms}, readonly=True).rows
    out: dict[str, list[tuple[str, int]]] = {}
    for tenant, key, occurred in rows:
        out.setdefault(tenant, []).append((key, int(occurred)))
    return out


def old_rows(rows: Iterable[dict[str, Any]], windows: dict[str, DedupWindow],
             lateness_ms: int) -> list[dict[str, Any]]:
    """Rows older than their tenant's (watermark - lateness): checked against ClickHouse."""
    return [r for r in rows
            if r["occurred_at"] < windows[r["tenant"]].watermark - lateness_ms]


def load_stored(sink: ClickHouseSink, rows: list[dict[str, Any]]) -> set[str]:
    """"tenant|event_id" keys of these rows that `activities` already holds (any age)."""
    if not rows:
        return set()
    found: set[str] = set()
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_tenant.setdefault(row["tenant"], []).append(row)
    for tenant, group in by_tenant.items():
        for chunk in range(0, len(group), STORED_CHUNK):
            part = group[chunk:chunk + STORED_CHUNK]
            found.update(r[0] for r in sink.query(
                f"SELECT DISTINCT concat(tenant, '|', event_id) FROM {sink.table('activities')} "
                "WHERE tenant = {t:String} AND event_id IN {ids:Array(String)} "
                "AND occurred_at BETWEEN fromUnixTimestamp64Milli({lo:Int64}, 'UTC') "
                "AND fromUnixTimestamp64Milli({hi:Int64}, 'UTC')",
                {"t": tenant, "ids": [r["event_id"] for r in part],
                 "lo": min(r["occurred_at"] for r in part),
                 "hi": max(r["occurred_at"] for r in part)}, readonly=True).rows)
    return found
