"""A small hand-computed scenario: out-of-order, duplicate and old events with known truth.

Times are relative to BASE = the start of the hour two hours ago, so every event lies in a
known event-time hour. Allowed lateness for the scenario is 1 hour: an event older than the
watermark minus that is checked against the stored rows instead of the in-memory window, and
counts once like any other.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import orjson

TENANT = "scn"
LATENESS_S = 3600


@functools.cache
def base() -> datetime:
    """BASE, taken once per test process: the events are made and checked against the same
    hours even when the run crosses the top of an hour (it shifted every expected hour)."""
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


def _ev(eid: str, kind: str, minutes: float, **fields: object) -> bytes:
    at = base() + timedelta(minutes=minutes)
    doc = {"event_id": eid, "tenant": TENANT, "type": kind, "occurred_at": at.isoformat(),
           "source": "test", "rep_id": "r1", "team_id": "T", "account_id": "A1"}
    doc.update(fields)
    return orjson.dumps(doc)


def events() -> list[bytes]:
    """In arrival order."""
    return [
        _ev("s1", "stage_change", 0, opportunity_id="O1", to_stage="discovery"),
        _ev("e1", "call", 0, prospect_id="P1", outcome="no_answer"),
        _ev("e2", "email", 10, prospect_id="P1", action="sent"),
        _ev("e3", "email", 11, prospect_id="P1", action="delivered"),   # not a touch
        _ev("e4", "meeting", 20, prospect_id="P2", status="held"),
        _ev("e1", "call", 0, prospect_id="P1", outcome="no_answer"),    # duplicate
        _ev("s3", "stage_change", 50, opportunity_id="O1", from_stage="demo",
            to_stage="proposal"),
        _ev("e5", "call", 5, prospect_id="P2", outcome="connected", duration_s=300),  # ooo
        _ev("s2", "stage_change", 30, opportunity_id="O1", from_stage="discovery",
            to_stage="demo"),                                            # out of order
        _ev("e6", "call", -180, prospect_id="P1", outcome="busy"),      # old: 3h behind
        _ev("e7", "call", -5, prospect_id="P1", outcome="voicemail"),   # within lateness
        _ev("e4", "meeting", 20, prospect_id="P2", status="held"),      # duplicate again
        _ev("e6", "call", -180, prospect_id="P1", outcome="busy"),      # old, duplicate
    ]


#: touches per (entity_type, entity_id, channel, hour offset from BASE)
EXPECTED_TOUCHES = {
    ("rep", "r1", "call", 0): 2, ("rep", "r1", "email", 0): 1, ("rep", "r1", "meeting", 0): 1,
    ("rep", "r1", "call", -1): 1, ("rep", "r1", "call", -3): 1,
    ("team", "T", "call", 0): 2, ("team", "T", "email", 0): 1, ("team", "T", "meeting", 0): 1,
    ("team", "T", "call", -1): 1, ("team", "T", "call", -3): 1,
    ("account", "A1", "call", 0): 2, ("account", "A1", "email", 0): 1,
    ("account", "A1", "meeting", 0): 1, ("account", "A1", "call", -1): 1,
    ("account", "A1", "call", -3): 1,
    ("prospect", "P1", "call", 0): 1, ("prospect", "P1", "email", 0): 1,
    ("prospect", "P1", "call", -1): 1, ("prospect", "P1", "call", -3): 1,
    ("prospect", "P2", "call", 0): 1, ("prospect", "P2", "meeting", 0): 1,
}
#: (stage, entered minute, exited minute or None, dwell seconds or None)
EXPECTED_VISITS = [
    ("discovery", 0, 30, 1800.0),
    ("demo", 30, 50, 1200.0),
    ("proposal", 50, None, None),
]
EXPECTED_ROWS = {"s1", "s2", "s3", "e1", "e2", "e3", "e4", "e5", "e6", "e7"}
EXPECTED_DUPLICATES = 3
