"""The bad-input invariant, checked for every fuzzed message of the validation path.

Every event of a message ends as exactly one valid row or one dead letter with a reason and a
non-empty error; none is lost, none is counted twice, and no exception escapes.
"""

from __future__ import annotations

import orjson

from touchline.schemas.activity import activity_adapter
from touchline.settings import PipelineSettings
from touchline.streams.validation import Validated, validate_message

RULES = PipelineSettings()
PARTITIONS = 4


def expected_events(raw: bytes) -> int:
    """How many events a raw message holds, by the documented contract (README).

    A message starting with `[` is a JSON array (one event per item; one event if it does not
    parse, since its items cannot be told apart); otherwise one event per non-blank line.
    """
    if len(raw) > RULES.max_message_bytes:
        return 1
    if raw.lstrip()[:1] == b"[":
        try:
            return len(orjson.loads(raw))
        except orjson.JSONDecodeError:
            return 1
    return sum(1 for line in raw.split(b"\n") if line.strip())


def run(raw: bytes, now_ms: int) -> Validated:
    """Validate one message (never raises: that is part of the invariant)."""
    out = Validated()
    validate_message(raw, out, topic="fuzz.raw", partition=0, offset=7, origin="",
                     partitions=PARTITIONS, rules=RULES, now_ms=now_ms)
    return out


def check(raw: bytes, out: Validated) -> tuple[int, int]:
    """Assert the invariant for one message; return (rows, dead letters)."""
    rows = [r for part in out.rows_by_partition.values() for r in part]
    n = expected_events(raw)
    assert out.events_in == n, (out.events_in, n, raw[:200])
    assert len(rows) + len(out.dead_letters) == n, (len(rows), len(out.dead_letters), n)
    for dl in out.dead_letters:
        assert dl.reason and dl.error.strip(), dl
        whole = raw.lstrip()[:1] == b"[" or dl.reason == "too_large"  # re-encoded / cut
        assert whole or dl.original_bytes() in raw, dl
    for part, part_rows in out.rows_by_partition.items():
        assert 0 <= part < PARTITIONS
        for row in part_rows:
            assert row["event_id"] and row["tenant"] and row["type"]
            assert "\x00" not in row["event_id"]
            line = orjson.loads(row["_event_json"])  # what `accepted_events` reads
            assert line["occurred_at_ms"] == row["occurred_at"], line
            assert line["event"]["event_id"] == row["event_id"], line
    return len(rows), len(out.dead_letters)


def is_valid_event(line: bytes) -> bool:
    """Independent judgement: does the canonical schema accept this line?"""
    try:
        activity_adapter.validate_json(line)
    except Exception:
        return False
    return True
