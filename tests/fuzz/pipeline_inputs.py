"""A few thousand generated good and bad lines for the real pipeline, with their expected fate.

Deterministic (seeded). Every line is one JSONL line (no newline, never starting with `[`),
and every event id is unique, so the expected outcome of each line is known independently of
the pipeline: a row, a dead letter, or (for the re-sent copies) a duplicate.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.fuzz.strategies import NASTY, TYPES, good_event

#: field values that must reach ClickHouse byte-exact (valid ids: no control chars, no padding)
EXACT = [s for s in NASTY if not any(ord(c) < 32 for c in s) and s == s.strip()] + [
    "O'Reilly & Sons \\ \"quoted\"", "😀👍 emoji", "' OR ''='", "%s %d {0} $1 ?",
    "a" * 128, "ümlaut\\u0000-not-a-nul", "SELECT * FROM system.users FORMAT JSON",
]
BAD_KINDS = ["missing", "wrong_type", "nan", "bad_utf8", "huge", "deep", "future", "unknown_type",
             "not_json", "control_char", "naive_time", "sql_wrong_type"]


@dataclass
class Inputs:
    """Lines to send and what each must become."""

    lines: list[bytes] = field(default_factory=list)
    good: dict[str, dict] = field(default_factory=dict)  # event_id -> event (a row each)
    bad: list[bytes] = field(default_factory=list)  # a dead letter each
    duplicates: int = 0


def generate(n: int, seed: int, tenant: str, dup_share: float = 0.03) -> Inputs:
    """n lines: ~half good (with SQL/quotes/unicode in string fields), half broken."""
    rnd = random.Random(seed)
    out = Inputs()
    now = datetime.now(UTC)
    for i in range(n):
        event_id = f"pf-{seed}-{i}"
        event = good_event(0, rnd.choice(sorted(TYPES)), tenant=tenant, event_id=event_id)
        event["occurred_at"] = (now - timedelta(seconds=rnd.randint(60, 86_400))).isoformat()
        for name in rnd.sample(["rep_id", "team_id", "account_id", "source", "prospect_id",
                                "cadence_id"], 3):
            event[name] = rnd.choice(EXACT)
        if event["type"] == "stage_change":
            event["to_stage"] = rnd.choice([s for s in EXACT if len(s) <= 64])
        if rnd.random() < 0.5:
            line = json.dumps(event, ensure_ascii=rnd.random() < 0.5).encode()
            out.lines.append(line)
            out.good[event_id] = event
            continue
        line = _break(rnd, event, rnd.choice(BAD_KINDS))
        assert b"\n" not in line and line.strip() and line.lstrip()[:1] != b"["
        out.lines.append(line)
        out.bad.append(line)
    for line in rnd.sample([ln for ln in out.lines if _is_good(ln, out)],
                           int(len(out.good) * dup_share)):
        out.lines.append(line)  # a retry: the same event again
        out.duplicates += 1
    return out


def _is_good(line: bytes, out: Inputs) -> bool:
    try:
        return json.loads(line).get("event_id") in out.good
    except ValueError:
        return False


def _break(rnd: random.Random, event: dict, kind: str) -> bytes:
    if kind == "missing":
        event.pop(rnd.choice(["event_id", "tenant", "occurred_at", "rep_id", "type"]))
    elif kind == "wrong_type":  # (numbers in occurred_at are epoch seconds to pydantic: valid)
        name = rnd.choice(["tenant", "rep_id", "occurred_at", "cadence_step"])
        event[name] = rnd.choice([[], {}, "x", -1.5, 256] if name == "cadence_step" else
                                 [None, 12, [], {}, True, -1.5] if name != "occurred_at" else
                                 [None, [], {}, "yesterday"])
    elif kind == "nan":
        event["cadence_step"] = float(rnd.choice(["nan", "inf", "-inf"]))
    elif kind == "huge":
        event["rep_id"] = "h" * rnd.choice([129, 70_000])
    elif kind == "deep":
        deep: object = 1
        for _ in range(rnd.randint(40, 400)):
            deep = [deep]
        event["tenant"] = deep
    elif kind == "future":
        event["occurred_at"] = rnd.choice(["9999-12-31T23:59:59Z", "2999-01-01T00:00:00+00:00"])
    elif kind == "unknown_type":
        event["type"] = rnd.choice(["sms", "CALL", "'; DROP TABLE x; --"])
    elif kind == "control_char":
        event["rep_id"] = "rep\x01\x1f"
    elif kind == "naive_time":
        event["occurred_at"] = "2026-01-01T00:00:00"
    elif kind == "sql_wrong_type":
        event["duration_s"] = "1; DROP TABLE touchline.activities"
        event["type"] = "call"
        event["outcome"] = "connected); DROP TABLE touchline.activities; --"
    line = json.dumps(event, allow_nan=True).encode()
    if kind == "bad_utf8":
        at = rnd.randint(1, len(line) - 1)
        line = line[:at] + rnd.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]) + line[at:]
    elif kind == "not_json":
        line = line[: rnd.randint(1, len(line) - 1)] + rnd.choice([b"", b"}}", b"'"])
    return line
