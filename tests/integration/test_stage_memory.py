"""Stage histories leave memory once the allowed lateness has passed them, and come back.

The worker evicts an opportunity's history when its latest change is older than
(watermark - allowed lateness - one bucket): a tombstone for its key appears in the table's
changelog. A later change of that opportunity loads the history back from `stage_visits`, so
its rows are those of the full history: the earlier visit is closed, the change count and the
first-seen time cover every change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.harness import topic_records

pytestmark = pytest.mark.integration

LATENESS_S = 60  # buckets of a minute: evicted once the watermark is 2 minutes past


def _event(eid: str, kind: str, at: datetime, **fields: object) -> bytes:
    doc = {"event_id": eid, "tenant": "mem", "type": kind, "occurred_at": at.isoformat(),
           "source": "test", "rep_id": "r1", "team_id": "T", "account_id": "A1"}
    doc.update(fields)
    return orjson.dumps(doc)


def history_records(p) -> list[tuple[bytes, bytes | None]]:
    """(key, value) of the stage-history changelog, in offset order per partition."""
    topic = f"{p.settings.faust_app_id}-stage_history_by_opportunity-changelog"
    return [(r.key, r.value) for r in topic_records(p.settings.kafka, topic)]


def test_history_is_evicted_after_the_lateness_and_loaded_back(pipeline_factory):
    p = pipeline_factory(allowed_lateness_s=LATENESS_S)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    p.produce([_event("s1", "stage_change", base, opportunity_id="O1", to_stage="discovery"),
               _event("s2", "stage_change", base + timedelta(minutes=10), opportunity_id="O1",
                      from_stage="discovery", to_stage="demo")], batch=1)
    p.wait_rows("stage_visits", 2)
    key = orjson.dumps("mem|O1")
    # in the changelog, no tombstone (one record per batch that changed it: the two messages
    # may be recorded together), and the latest value holds both changes
    kept = [v for k, v in history_records(p) if k == key]
    assert kept and None not in kept
    assert [c[1] for c in orjson.loads(kept[-1])] == ["s1", "s2"]

    # the watermark moves 20 minutes on: O1's latest change is far outside the lateness
    p.produce([_event("c1", "call", base + timedelta(minutes=30), prospect_id="P1",
                      outcome="no_answer")], batch=1)
    p.wait_until(lambda: any(k == key and v is None for k, v in history_records(p)), 60,
                 "a tombstone for the evicted history")

    p.produce([_event("s3", "stage_change", base + timedelta(minutes=40), opportunity_id="O1",
                      from_stage="demo", to_stage="proposal")], batch=1)
    p.wait_until(lambda: p.scalar(
        "SELECT count() FROM {db}.stage_visits FINAL WHERE opportunity_id = 'O1'") == 3, 60,
        "the third visit")
    p.wait_settled()
    visits = p.rows("SELECT stage, entered_at, exited_at, next_stage FROM {db}.stage_visits "
                    "FINAL WHERE opportunity_id = 'O1' ORDER BY entered_at")
    naive = base.replace(tzinfo=None)
    assert [(s, e.replace(tzinfo=None) - naive, x and x.replace(tzinfo=None) - naive, n)
            for s, e, x, n in visits] == [
        ("discovery", timedelta(0), timedelta(minutes=10), "demo"),
        ("demo", timedelta(minutes=10), timedelta(minutes=40), "proposal"),
        ("proposal", timedelta(minutes=40), None, ""),
    ]
    state = p.rows("SELECT current_stage, stage_changes, first_seen_at "
                   "FROM {db}.opportunity_state FINAL WHERE opportunity_id = 'O1'")
    assert [(s, n, f.replace(tzinfo=None)) for s, n, f in state] == [("proposal", 3, naive)]
    # the history is back in the table, whole: the last changelog value has all three
    last = [v for k, v in history_records(p) if k == key][-1]
    assert [c[1] for c in orjson.loads(last)] == ["s1", "s2", "s3"]
