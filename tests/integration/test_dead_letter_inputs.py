"""Invariant: every rejected input is one dead letter of its own, kept whole enough to act on.

Real broker, worker and store:
- a 5 MiB line in a file given to `touchline ingest` goes to the DLQ as `too_large` (with its
  size) and every other line goes in; the run accounts for every line (the file used to fail
  whole with MessageSizeTooLargeError);
- two items rejected from one vendor request (same topic, partition, offset and payload,
  different errors: e.g. a Salesforce gap notice and an overflow notice) are two dead letters
  (they shared one key, and one replaced the other); two copies of the same bad line at two
  places are two dead letters;
- a `validation` dead letter of an event that names its tenant keeps that tenant and event id
  (a tenant reader's row policy hid it).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from kafka import KafkaProducer

from touchline.load.ingest_file import ingest_file
from touchline.schemas.dead_letter import DeadLetter

pytestmark = pytest.mark.integration


def _event(eid: str, tenant: str = "inputs", **over: object) -> bytes:
    doc = {"event_id": eid, "tenant": tenant, "type": "call", "source": "test",
           "occurred_at": datetime.now(UTC).isoformat(), "rep_id": "r", "team_id": "t",
           "account_id": "a", "outcome": "busy"}
    doc.update(over)
    return orjson.dumps(doc)


def test_a_5_mib_line_is_dead_lettered_and_the_rest_of_the_file_goes_in(pipeline_factory,
                                                                         tmp_path):
    p = pipeline_factory()
    huge = _event("huge", rep_id="x" * (5 * 1024 * 1024))
    lines = [_event(f"e{i}") for i in range(40)] + [huge] + [_event(f"e{i}")
                                                            for i in range(40, 80)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = ingest_file(p.settings, path, wait=True, timeout=120, batch=25)
    assert report.complete, report.render()
    assert (report.lines, report.new_rows, dict(report.rejected)) == (81, 80, {"too_large": 1})
    assert p.scalar("SELECT count() FROM {db}.activities WHERE tenant = 'inputs'") == 80
    got = p.rows("SELECT reason, payload_bytes, length(payload), line_no "
                 "FROM {db}.dlq_events FINAL")
    assert got == [("too_large", len(huge), 65536, 0)]


def test_rejections_of_one_request_and_copies_are_each_kept(pipeline_factory):
    p = pipeline_factory()
    kafka = p.settings.kafka
    body = b'{"relay": "salesforce", "records": []}'
    where = {"source_topic": "raw.salesforce", "partition": 0, "offset": 17}
    notices = [DeadLetter.of(body, "unmappable", "gap: Opportunity 006A records 4-9", **where),
               DeadLetter.of(body, "unmappable", "overflow: 2 events over the batch", **where)]
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    for dead in notices:
        producer.send(kafka.dlq_topic, dead.model_dump_json().encode(), partition=0)
    producer.flush()
    producer.close()
    # the same bad line in two messages, and a parsed event that fails validation
    bad = b'{"event_id": "v1", "tenant": " acme ", "type": "call"}'
    p.produce([bad], batch=1)
    p.produce([bad], batch=1)
    p.wait_rows("dlq_events", 4)
    p.wait_settled()
    rows = p.rows("SELECT reason, error, tenant, event_id FROM {db}.dlq_events FINAL "
                  "ORDER BY error")
    assert len(rows) == 4
    assert [r[1] for r in rows if r[0] == "unmappable"] == [
        "gap: Opportunity 006A records 4-9", "overflow: 2 events over the batch"]
    validation = [r for r in rows if r[0] == "validation"]
    assert [(r[2], r[3]) for r in validation] == [("acme", "v1"), ("acme", "v1")]
