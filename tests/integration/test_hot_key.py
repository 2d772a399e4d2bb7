"""One opportunity flapped 20,000 times (a CRM automation) does not wedge the worker.

Invariant: every change is recorded and the opportunity's visits, change count and first-seen
time are exact; another tenant's events on another partition are recorded beside it; the
worker's peak memory stays bounded (a history keeps its latest `KEPT_CHANGES` changes in
memory, and each batch rewrites only the visits its changes touch). A change older than the
kept ones, arriving last, still gives exact visits (the whole history is read back).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.integration

CHANGES = 20_000
STAGES = ("discovery", "demo", "proposal", "negotiation")


def _change(n: int, at: datetime) -> bytes:
    return orjson.dumps({
        "event_id": f"flap-{n:05d}", "tenant": "hot", "type": "stage_change",
        "source": "salesforce", "occurred_at": at.isoformat(), "rep_id": "r1",
        "team_id": "T", "account_id": "A-hot", "opportunity_id": "O-hot",
        "to_stage": STAGES[n % len(STAGES)]})


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_twenty_thousand_changes_of_one_opportunity(pipeline_factory):
    p = pipeline_factory()
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    # one change a second, sent in order in messages of 500; the first one held back
    p.produce([_change(n, base + timedelta(seconds=n)) for n in range(1, CHANGES)], batch=500)
    other = [orjson.dumps({"event_id": f"o-{n}", "tenant": "calm", "type": "call",
                           "source": "dialer", "outcome": "busy", "rep_id": "r2",
                           "team_id": "T2", "account_id": f"A-calm-{n}",
                           "occurred_at": (base + timedelta(minutes=n)).isoformat()})
             for n in range(200)]
    p.produce(other, batch=50)
    p.wait_until(lambda: p.scalar(
        "SELECT count() FROM {db}.activities WHERE tenant = 'hot'") == CHANGES - 1, 240,
        "every change recorded")
    p.produce([_change(0, base)], batch=1)  # the oldest change, last: before every kept one
    p.wait_until(lambda: p.scalar(
        "SELECT stage_changes FROM {db}.opportunity_state FINAL WHERE opportunity_id = 'O-hot'")
        == CHANGES, 120, "the late first change merged")
    p.wait_settled()
    assert p.scalar("SELECT count() FROM {db}.activities WHERE tenant = 'calm'") == len(other)
    naive = base.replace(tzinfo=None)
    [(changes, first_seen, current, entered)] = p.rows(
        "SELECT stage_changes, first_seen_at, current_stage, stage_entered_at "
        "FROM {db}.opportunity_state FINAL WHERE opportunity_id = 'O-hot'")
    assert (changes, first_seen.replace(tzinfo=None), current,
            entered.replace(tzinfo=None)) == (CHANGES, naive, STAGES[(CHANGES - 1) % 4],
                                              naive + timedelta(seconds=CHANGES - 1))
    # every visit: one per change, each exactly one second long but the open last one
    visits = p.rows(
        "SELECT count(), countIf(dwell_s = 1), countIf(exited_at IS NULL), min(entered_at), "
        "uniqExact(entered_event_id) FROM {db}.stage_visits FINAL "
        "WHERE opportunity_id = 'O-hot'")
    first = p.rows("SELECT entered_event_id, next_stage, dwell_s FROM {db}.stage_visits FINAL "
                   "WHERE opportunity_id = 'O-hot' ORDER BY entered_at LIMIT 3")
    assert visits == [(CHANGES, CHANGES - 1, 1, naive, CHANGES)], first
    peak = _peak_rss_mb(p.worker().proc.pid)
    print(f"\nworker peak RSS {peak:.0f} MB after {CHANGES} changes of one opportunity")
    assert peak < 1500, f"worker peak RSS {peak:.0f} MB"
