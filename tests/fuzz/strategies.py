"""Hypothesis strategies for bad input: canonical events broken in every way we could think of.

`event_bytes()` draws one event payload (valid or broken: wrong types, missing fields, huge
strings, deep JSON, invalid UTF-8, NaN/Infinity, timestamps far away, SQL in string fields).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import strategies as st

NOW = datetime.now(UTC)

#: strings that must arrive byte-exact (quotes, backslashes, SQL, unicode), NUL-free
NASTY = [
    "'; DROP TABLE touchline.activities; --",
    "Robert'); DELETE FROM touchline.dlq_events WHERE ('1'='1",
    "\\' OR 1=1 --",
    'a"b\'c\\d`e',
    "{x:String}",
    "\\N",
    "1' UNION SELECT name FROM system.users --",
    "zürich ☎ 電話 🙂 \u202e rtl",
    "tab\there",
    "back\\\\slash\\",
]
nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
        min_size=1, max_size=40,
    ),
)

TYPES = {
    "call": {"direction": "outbound", "outcome": "connected", "duration_s": 42},
    "email": {"action": "sent"},
    "meeting": {"status": "held"},
    "stage_change": {"opportunity_id": "opp-1", "from_stage": "discovery", "to_stage": "proposal"},
    "disposition": {"prospect_id": "p-1", "disposition": "qualify"},
    "lead": {"prospect_id": "p-1", "status": "created"},
}
FIELDS = ["event_id", "tenant", "type", "occurred_at", "source", "rep_id", "team_id",
          "account_id", "prospect_id", "opportunity_id", "cadence_id", "cadence_step",
          "direction", "outcome", "duration_s", "action", "status", "to_stage", "from_stage",
          "disposition", "schema_version"]

#: values of the wrong type (or extreme) for any field; floats include NaN and +-Infinity
wrong_values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just([]), st.just({}), st.lists(st.integers(), max_size=3),
    st.just(""), st.just("   "), st.just("x" * 200), st.just("\u0000\u0001"),
    nasty_text,
)
far_times = st.sampled_from([
    "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1900-02-29T00:00:00+00:00",
    "9999-12-31T23:59:59Z", "2999-01-01T00:00:00+14:00", (NOW + timedelta(days=3)).isoformat(),
    (NOW - timedelta(days=3650)).isoformat(), NOW.replace(tzinfo=None).isoformat(),
    "2024-13-45T25:61:61Z", "yesterday", "1e309", "",
])


def good_event(i: int, type_: str = "call", tenant: str = "acme", **extra: Any) -> dict[str, Any]:
    """A valid canonical event (recent timestamp)."""
    event = {
        "event_id": f"fz-{i}", "tenant": tenant, "type": type_,
        "occurred_at": (NOW - timedelta(minutes=5)).isoformat(), "source": "fuzz",
        "rep_id": "rep-1", "team_id": "team-1", "account_id": "acct-1",
    }
    event.update(TYPES[type_])
    event.update(extra)
    return event


def _deep(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"d": [value]}
    return value


@st.composite
def event_dict(draw: st.DrawFn) -> dict[str, Any]:
    """A canonical event dict with zero or more of its fields broken."""
    event = good_event(draw(st.integers(0, 10**9)), draw(st.sampled_from(sorted(TYPES))))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(
            ["drop", "wrong", "huge", "deep", "time", "sql", "extra", "type"]))
        field = draw(st.sampled_from(FIELDS))
        if kind == "drop":
            event.pop(field, None)
        elif kind == "wrong":
            event[field] = draw(wrong_values)
        elif kind == "huge":
            event[field] = "h" * draw(st.sampled_from([129, 5000, 70_000]))
        elif kind == "deep":
            event[field] = _deep(draw(st.integers(10, 300)))
        elif kind == "time":
            event["occurred_at"] = draw(far_times)
        elif kind == "sql":
            event[draw(st.sampled_from(["tenant", "rep_id", "account_id", "source",
                                        "team_id", "event_id"]))] = draw(nasty_text)
        elif kind == "extra":
            event[draw(nasty_text)] = draw(wrong_values)
        else:
            event["type"] = draw(st.one_of(st.sampled_from(["CALL", "sms", ""]), wrong_values))
    return event


def _dumps(event: dict[str, Any]) -> bytes:
    """JSON bytes; NaN/Infinity written as JS literals (what a sloppy producer sends)."""
    try:
        return orjson.dumps(event)  # orjson writes NaN/inf as null, so fall back to json
    except (orjson.JSONEncodeError, TypeError):
        import json

        return json.dumps(event).encode()


@st.composite
def event_bytes(draw: st.DrawFn) -> bytes:
    """One event payload: a (broken) event's JSON, or broken bytes around it. No newline."""
    event = draw(event_dict())
    import json

    data = json.dumps(event, ensure_ascii=draw(st.booleans()), allow_nan=True).encode()
    mangle = draw(st.sampled_from(
        ["none", "none", "none", "truncate", "bad_utf8", "nan_literal", "not_object", "bom",
         "garbage"]))
    if mangle == "truncate":
        data = data[: draw(st.integers(1, max(1, len(data) - 1)))]
    elif mangle == "bad_utf8":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"])) \
            + data[at:]
    elif mangle == "nan_literal":
        data = data.replace(b'"duration_s": 42', b'"duration_s": NaN', 1).replace(
            b'"cadence_step": 1', b'"cadence_step": Infinity', 1)
        data = data[:-1] + b', "score": -Infinity}' if data.endswith(b"}") else data
    elif mangle == "not_object":
        data = draw(st.sampled_from([b"42", b"null", b'"call"', b"true", b"{}", b"{", b"}"]))
    elif mangle == "bom":
        data = b"\xef\xbb\xbf" + data
    elif mangle == "garbage":
        data = draw(st.binary(min_size=1, max_size=200))
    data = data.replace(b"\n", b" ")  # one event per line
    return data if data.strip() else b"x"
