"""The worker's lines (`accepted_events`, migration 0053) become exactly the rows `activity_row`
makes, on the embedded engine (ClickHouse 26.9) and on 25.8 (the compose's server line).

Every event is validated once; its row (`activity_row`) goes into a reference table of the same
columns, its line (`activity_line`, as the worker sends it) into `accepted_events`, and every
column of every row must match: simulated events of every type, and events whose text the
engine must not read as it is (whitespace the model strips, escapes, non-ASCII, a pretty
printer's spaces, keys that only another type has or that look like the keys the line adds,
numbers given as text, nulls, old and far times). A block sent again with its token adds
nothing, in `activities` and in the rollups its views feed.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from itertools import islice
from typing import Any

import pytest

from tests.engine_25_8 import (
    DB,
    interpreter,
    json_insert,
    migration_statements,
    run,
)
from touchline.bench.payloads import CLEAN
from touchline.load.simulator import Simulator
from touchline.schemas.activity import activity_adapter
from touchline.schemas.activity_row import ACTIVITY_COLUMNS, accepted_row, activity_row
from touchline.sinks.rows import accepted_events_json, activities_json

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
INGESTED_MS = int(NOW.timestamp() * 1000) + 1_234
CALL = {"event_id": "call-1", "tenant": "acme", "type": "call",
        "occurred_at": "2026-12-06T10:00:00.123456+02:00", "source": "twilio", "rep_id": "r1",
        "team_id": "t1", "account_id": "a1", "outcome": "connected"}


def _edge_events() -> list[bytes]:
    """Events whose text differs from what the model made of it, and plain ones beside them."""
    def event(n: int, compact: bool = True, **fields: Any) -> bytes:
        body = {**CALL, "event_id": f"edge-{n}", **fields}
        return json.dumps(body, separators=(",", ":") if compact else None,
                          ensure_ascii=False).encode()

    other_types = {"direction": "inbound", "outcome": "busy", "duration_s": 5,
                   "to_stage": "won", "from_stage": "x", "status": "held", "action": "sent",
                   "disposition": "qualify", "is_closed": True, "channel": "call",
                   "is_touch": 1, "kafka_offset": 999, "kafka_partition": 3,
                   "ingested_at": "2001-01-01T00:00:00Z", "schema_version": 1}
    email = {"type": "email", "action": "opened"}
    return [
        event(1),  # no direction: the model's default (outbound)
        event(2, compact=False, **{**other_types, **email}),  # a pretty printer's spaces
        event(3, **{**other_types, **email}),  # the same, plain: its own text is read
        event(4, rep_id=" r2 ", team_id="\tt2"),  # whitespace the model strips
        event(5, account_id="Müller GmbH", rep_id="renée"),  # non-ASCII
        event(6, account_id='a "quoted" \\ name'),  # escapes
        event(7, cadence_id="outbound-8", cadence_step="3", duration_s="30"),  # numbers as text
        event(8, cadence_id="c", cadence_step=4.0, duration_s=12.0, direction="inbound"),
        event(9, type="meeting", status="held", outcome=None),
        event(10, type="meeting", status="scheduled"),
        event(11, type="lead", prospect_id="p1"),  # no status: the default (created)
        event(12, type="lead", prospect_id="p2", status="assigned"),
        event(13, type="disposition", prospect_id="p3", disposition="disqualify"),
        event(14, type="stage_change", opportunity_id="o1", from_stage=None, to_stage="won"),
        event(15, type="stage_change", opportunity_id="o2", from_stage="discovery",
              to_stage="Geschlossen – verloren", vendor_stage="Closed Lost", is_closed="true",
              is_won=False, editor_id="admin"),
        event(16, type="stage_change", opportunity_id="o3", to_stage="proposal",
              vendor_stage="Proposal/Price Quote", is_closed=0),
        event(17, rep_id="_bot"),  # a value starting with `_`
        event(18, _is_touch=0, _channel="x", _kafka_offset=5, _occurred_at=1),  # `_` keys
        event(19, meta={"tenant": "evil", "account_id": "evil"}, tags=["a", "b"]),  # nested
        event(20, prospect_id=None, opportunity_id=None, motion=None),  # nulls
        event(21, motion="upsell", product_line="analytics", editor_id="e1"),
        event(22, occurred_at="1999-05-01T00:00:00.999Z"),  # before the 10-digit seconds
        event(23, occurred_at="1901-01-01T00:00:00+00:00"),
        event(24, occurred_at="2026-12-06T23:59:59.9999999-11:00"),
        event(25) + b"  ",  # trailing blanks after the object
        event(26, type="email", action="sent", cadence_id="outbound-8", cadence_step=2),
    ]


def _events() -> list[bytes]:
    sim = Simulator(seed=11, tenant="acme", anomalies=CLEAN, teams=2)
    simulated = list(islice(sim.payloads(NOW - dt.timedelta(days=3), 600 / (3 * 86400)), 600))
    return simulated + _edge_events()


def _rows(events: list[bytes]) -> tuple[list[dict], list[dict]]:
    """Each event's reference row and its worker row, with the same ingest coordinates."""
    reference, lines = [], []
    for offset, data in enumerate(events):
        event = activity_adapter.validate_json(data)
        extra = {"ingested_at": INGESTED_MS, "kafka_partition": offset % 4,
                 "kafka_offset": 10_000 + offset}
        reference.append({**activity_row(event), **extra})
        lines.append({**accepted_row(event, data), **extra})
    return reference, lines


COLUMNS = ", ".join(ACTIVITY_COLUMNS)
#: every column as text (times as epoch ms), in the table's order, by event id
SELECT_ROWS = ("SELECT {columns} FROM (SELECT event_id, tenant, type, "
               "toUnixTimestamp64Milli(occurred_at) AS occurred_at, * EXCEPT (event_id, tenant, "
               "type, occurred_at, ingested_at), toUnixTimestamp64Milli(ingested_at) AS "
               "ingested_at FROM {db}.{table}) ORDER BY event_id")


def _job(reference: list[dict], lines: list[dict]) -> dict[str, list]:
    half = len(lines) // 2
    statements = [
        f"CREATE DATABASE IF NOT EXISTS {DB}", *migration_statements(),
        f"CREATE TABLE {DB}.reference AS {DB}.activities",
        json_insert("reference", activities_json(reference), "reference"),
        json_insert("accepted_events", accepted_events_json(lines[:half]), "first"),
        json_insert("accepted_events", accepted_events_json(lines[half:]), "second"),
        json_insert("accepted_events", accepted_events_json(lines[:half]), "first"),  # retried
    ]
    queries = [SELECT_ROWS.format(columns=COLUMNS, db=DB, table=table)
               for table in ("activities", "reference")]
    queries.append(f"SELECT entity_type, sum(touches) FROM {DB}.touch_counts WHERE "
                   "entity_type IN ('rep', 'account') GROUP BY entity_type ORDER BY entity_type")
    queries.append(f"SELECT entity_type, count() AS touches FROM (SELECT 'rep' AS entity_type "
                   f"FROM {DB}.reference WHERE is_touch UNION ALL SELECT 'account' FROM "
                   f"{DB}.reference WHERE is_touch) GROUP BY entity_type ORDER BY entity_type")
    return {"statements": statements, "queries": queries}


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["26.9", "25.8"])
def test_the_engine_makes_the_rows_activity_row_makes(engine: str) -> None:
    events = _events()
    reference, lines = _rows(events)
    fast = sum(1 for row, data in zip(lines, events, strict=True)
               if row["_event_json"].endswith(b'"event":' + data + b"}"))
    assert 600 <= fast < len(events)  # both ways of writing a line are exercised
    python = sys.executable if engine == "26.9" else interpreter()
    report = run(python, _job(reference, lines))
    assert report["version"].startswith(engine), report["version"]
    assert report["failed"] == [], report["failed"]
    stored, expected, touches, expected_touches = report["results"]
    assert len(expected) == len(events)
    assert len(stored) == len(expected)  # the retried block added nothing
    by_id = {row[0]: row for row in stored}
    for want in expected:
        got = by_id[want[0]]
        assert got == want, {c: (g, w) for c, g, w in zip(ACTIVITY_COLUMNS, got, want,
                                                            strict=True) if g != w}
    assert touches == expected_touches and touches  # the rollups, once each


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["26.9", "25.8"])
def test_a_key_given_twice_is_refused_by_an_engine_that_parses_the_line(engine: str) -> None:
    """Validation keeps the last value; an engine parsing the line itself refuses it."""
    data = json.dumps({**CALL, "event_id": "twice"}, separators=(",", ":")).encode().replace(
        b'"rep_id":"r1"', b'"rep_id":"r0","rep_id":"r1"')
    event = activity_adapter.validate_json(data)
    assert event.rep_id == "r1"
    row = {**accepted_row(event, data), "ingested_at": INGESTED_MS, "kafka_partition": 0,
           "kafka_offset": 1}
    python = sys.executable if engine == "26.9" else interpreter()
    report = run(python, {"statements": [
        f"CREATE DATABASE IF NOT EXISTS {DB}", *migration_statements(),
        json_insert("accepted_events", accepted_events_json([row]), "twice")], "queries": []})
    ((_, error),) = report["failed"]
    assert "duplicate key 'rep_id'" in error, error


@pytest.mark.integration
def test_a_batch_with_rows_of_a_worker_before_0053_writes_both(tmp_path) -> None:
    """Rows forwarded by an earlier worker have no line: they go into `activities` as they are,
    beside the lines of the same batch, once each when the batch is written again."""
    from touchline.sinks.clickhouse import ClickHouseSink
    from touchline.streams.recording import BatchResult

    events = _events()[:40]
    reference, lines = _rows(events)
    rows = [ref if k % 3 == 0 else line for k, (ref, line) in enumerate(
        zip(reference, lines, strict=True))]
    result = BatchResult(rows=rows, token="raw:0:1-40")
    sink = ClickHouseSink(f"chdb://{tmp_path}/ch", database=DB).start()
    try:
        sink.ensure_schema()
        result.write(sink)
        BatchResult(rows=rows, token="raw:0:1-40").write(sink)  # a retry of the same batch
        stored = sink.query(SELECT_ROWS.format(columns=COLUMNS, db=DB, table="activities")).rows
    finally:
        sink.close()
    assert [table for table, _ in result._activities_json or []] == [
        "accepted_events", "activities"]
    expected = sorted((row["event_id"], *(row[c] for c in list(ACTIVITY_COLUMNS)[1:]))
                      for row in reference)
    assert [tuple(r) for r in stored] == expected
