"""Malformed input lands in the DLQ with a reason; the worker keeps running; nothing is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

pytestmark = pytest.mark.integration


def good(eid: str, **over: object) -> dict:
    doc = {"event_id": eid, "tenant": "dlq", "type": "call", "source": "test",
           "occurred_at": datetime.now(UTC).isoformat(), "rep_id": "r", "team_id": "t",
           "account_id": "a", "outcome": "busy"}
    doc.update(over)
    return doc


def test_malformed_events_are_dead_lettered_with_reasons(pipeline_factory):
    p = pipeline_factory(max_event_bytes=4096)
    missing = good("m1")
    del missing["rep_id"]
    bad = {
        b"{not json": "invalid_json",
        orjson.dumps(missing): "validation",
        orjson.dumps(good("m2", outcome=42)): "validation",
        orjson.dumps(good("m3", type="fax")): "unknown_type",
        orjson.dumps(good("m4", occurred_at="2026-01-01T10:00:00")): "validation",
        orjson.dumps(good("m5", rep_id="x" * 10_000)): "too_large",
        orjson.dumps(good("m6", occurred_at=(datetime.now(UTC) + timedelta(days=3))
                          .isoformat())): "future",
        b"\xff\xfe not utf-8": "invalid_json",
        b"[1, 2,": "invalid_json",
    }
    # one JSONL batch mixing good and bad lines, plus single-message bad inputs
    lines = [orjson.dumps(good("g1"))] + list(bad) + [orjson.dumps(good("g2"))]
    p.produce([b"\n".join(lines[:-1])], batch=1)
    p.produce([lines[-1]], batch=1)
    p.produce([orjson.dumps([good("g3"), good("g4")])], batch=1)  # a JSON array batch
    p.wait_rows("dlq_events", len(bad))
    p.wait_rows("activities", 4)
    p.wait_settled()

    assert p.worker().alive()
    assert sorted(r[0] for r in p.rows("SELECT event_id FROM {db}.activities")) == [
        "g1", "g2", "g3", "g4"]
    got = p.rows("SELECT reason, error, payload, payload_encoding, payload_bytes "
                 "FROM {db}.dlq_events ORDER BY offset, line_no")
    assert sorted(r[0] for r in got) == sorted(bad.values())
    errors = " | ".join(r[1] for r in got)
    assert "rep_id: Field required" in errors
    assert "outcome: Input should be" in errors
    assert "occurred_at: Input should have timezone info" in errors
    assert "type:" in errors and "fax" in errors
    # original bytes are kept: text as is, anything else base64
    payloads = {r[2] for r in got}
    assert "{not json" in payloads
    assert any(r[3] == "base64" for r in got)
    assert all(r[4] > 0 for r in got)
    # the DLQ stage reports what it wrote and where it stands (ops dashboard: DLQ lag)
    written, position, highwater = p.rows(
        "SELECT sum(messages), sum(committed), sum(highwater) FROM (SELECT partition, "
        "sum(messages) AS messages, argMax(committed, ts) AS committed, "
        "argMax(highwater, ts) AS highwater FROM {db}.pipeline_metrics "
        "WHERE topic = {t:String} GROUP BY partition)", t=p.settings.kafka.dlq_topic)[0]
    assert written == len(bad)
    assert position == highwater == sum(p.end_offsets(p.settings.kafka.dlq_topic).values())
