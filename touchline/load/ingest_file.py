"""`touchline ingest FILE.jsonl [--wait]`: replay/backfill a file and account for every line.

Each line ends as exactly one of: a new row in ClickHouse, a duplicate (of an event already
there, of an earlier line, or of a rejected line: same bytes or same tenant and event_id), or
a DLQ entry with a reason. Lines are matched to DLQ entries by the `touchline-origin` header
(run id + first line of the message) and the line number. Events of any age count: history
older than the allowed lateness is deduplicated against the stored rows. The file goes to the
backfill topic, a lane of its own, so live events never wait behind it (docs/semantics.md).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from touchline.load.produce import send_batches
from touchline.settings import Settings
from touchline.sinks.connect import open_sink

ID_CHUNK = 20_000


@dataclass
class IngestReport:
    """How the file's lines were accounted for."""

    lines: int
    run_id: str
    new_rows: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    waited: bool = False
    elapsed_s: float = 0.0

    @property
    def accounted(self) -> int:  # noqa: D102
        return self.new_rows + self.duplicates + sum(self.rejected.values())

    @property
    def complete(self) -> bool:  # noqa: D102
        return self.accounted == self.lines

    def render(self) -> str:
        """Human-readable accounting."""
        if not self.waited:
            return f"sent {self.lines} lines (run {self.run_id}); use --wait to account for them"
        rejected = ", ".join(f"{r} {n}" for r, n in self.rejected.most_common()) or "none"
        status = "all lines accounted for" if self.complete else (
            f"{self.lines - self.accounted} lines NOT accounted for yet (timeout)")
        return (f"lines {self.lines}: new rows {self.new_rows}, duplicates {self.duplicates}, "
                f"rejected {sum(self.rejected.values())} ({rejected}); {status} "
                f"in {self.elapsed_s:.1f}s (run {self.run_id})")


def ingest_file(settings: Settings, path: Path, *, wait: bool, timeout: float,
                batch: int) -> IngestReport:
    """Send the file; with `wait`, poll ClickHouse until every line is accounted for."""
    lines = [ln for ln in path.read_bytes().split(b"\n") if ln.strip()]
    report = IngestReport(lines=len(lines), run_id=uuid.uuid4().hex[:12])
    started = time.time()
    parsed = [_parse(line) for line in lines]
    # sent oldest first: the pipeline's result does not depend on the order, but a batch
    # of one month's events costs ClickHouse far less than a batch spread over years
    order = sorted(range(len(lines)), key=lambda n: parsed[n][1])
    send_batches(settings, [lines[n] for n in order], batch=batch, origin=report.run_id,
                 topic=settings.kafka.backfill_topic, line_numbers=order)
    if not wait:
        return report
    report.waited = True
    ids = [event_id for event_id, _ in parsed]
    sink = open_sink(settings)
    try:
        while True:
            _account(sink, report, lines, ids, started)
            report.elapsed_s = time.time() - started
            if report.complete or report.elapsed_s > timeout:
                return report
            time.sleep(1.0)
    finally:
        sink.close()


def _parse(line: bytes) -> tuple[str | None, float]:
    """('tenant|event_id' or None, event time as epoch seconds or 0) of a line."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, 0.0
    if not isinstance(doc, dict):
        return None, 0.0
    return _event_id(doc), _occurred(doc.get("occurred_at"))


def _event_id(doc: dict) -> str | None:
    """'tenant|event_id' of an event (ids are unique per tenant), None if it has none."""
    tenant, value = doc.get("tenant"), doc.get("event_id")
    if not isinstance(value, str) or not isinstance(tenant, str):
        return None
    return f"{tenant.strip()}|{value.strip()}"  # as validation reads them


def _occurred(value: object) -> float:
    """Epoch seconds of an RFC 3339 time; 0 when it is not one (validation will say why)."""
    if not isinstance(value, str):
        return 0.0
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return 0.0


def _account(sink, report: IngestReport, lines: list[bytes], ids: list[str | None],
             started: float) -> None:
    rejected_rows = sink.query(
        f"SELECT DISTINCT origin, line_no, reason FROM {sink.table('dlq_events')} FINAL "
        "WHERE startsWith(origin, {run:String})", {"run": report.run_id + ":"},
    ).rows
    rejected: dict[int, str] = {}
    for origin, line_no, reason in rejected_rows:
        rejected[int(origin.rsplit(":", 1)[1]) + int(line_no)] = reason
    wanted = sorted({i for n, i in enumerate(ids) if i is not None and n not in rejected})
    first_seen: dict[str, float] = {}
    for k in range(0, len(wanted), ID_CHUNK):
        for event_id, ingested in sink.query(
            f"SELECT concat(tenant, '|', event_id) AS key, "
            f"toUnixTimestamp64Milli(min(ingested_at)) FROM {sink.table('activities')} "
            "WHERE event_id IN {ids:Array(String)} GROUP BY key",
            {"ids": [w.split("|", 1)[1] for w in wanted[k:k + ID_CHUNK]]},
        ).rows:
            first_seen[event_id] = int(ingested) / 1000
    present_lines = [i for n, i in enumerate(ids)
                     if n not in rejected and i is not None and i in first_seen]
    new_ids = {i for i in present_lines if first_seen[i] >= started - 1}
    # a copy of a rejected line is rejected once: its dead letter has the same key
    rejected_lines = {lines[n].strip() for n in rejected if n < len(lines)}
    rejected_ids = {ids[n] for n in rejected if n < len(ids) and ids[n] is not None}
    copies = sum(1 for n, i in enumerate(ids)
                 if n not in rejected and (i is None or i not in first_seen)
                 and (lines[n].strip() in rejected_lines or i in rejected_ids))
    report.new_rows = len(new_ids)
    report.duplicates = len(present_lines) - len(new_ids) + copies
    report.rejected = Counter(rejected.values())
