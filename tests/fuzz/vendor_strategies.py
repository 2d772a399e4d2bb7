"""Hypothesis strategies for vendor webhook bodies: the documented fixtures, broken at random.

Each strategy starts from the vendor's fixture payloads (tests/webhooks/fixtures) and applies
random mutations at random paths (drop a key, wrong type, NaN/Infinity, huge or SQL strings,
deep nesting, far timestamps), or replaces the body by garbage / invalid UTF-8.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hypothesis import strategies as st

from tests.fuzz.strategies import _deep, nasty_text, wrong_values

FIXTURES = Path(__file__).parent.parent / "webhooks" / "fixtures"


def _body(name: str) -> str:
    lines = (FIXTURES / name).read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    return "\n".join(lines[start:]).strip()


SENDGRID = json.loads(_body("sendgrid_event_webhook.json"))
HUBSPOT = json.loads(_body("hubspot_webhooks.json"))
SALESFORCE = json.loads(_body("salesforce_cdc_events.json"))
OUTREACH = [json.loads(line) for line in _body("outreach_webhooks.jsonl").splitlines() if line]
TWILIO = [dict(parse_qsl(line)) for line in _body("twilio_call_status_callbacks.form").splitlines()
          if line]

replacement = st.one_of(
    wrong_values,
    st.sampled_from([10**20, -1, 0, 253402300800000, -62135596800000, "9999999999999",
                     "2999-01-01T00:00:00Z", "0000-00-00", "NaN"]),
    st.integers(10, 300).map(_deep),
    st.sampled_from([129, 5000, 70_000]).map(lambda n: "h" * n),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """A deep copy of `base` with 0-4 random mutations."""
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(0, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "replace", "drop", "sql"]))
            if action == "drop":
                del parent[path[-1]]
            elif action == "sql":
                parent[path[-1]] = draw(nasty_text)
            else:
                parent[path[-1]] = draw(replacement)
        except (KeyError, IndexError, TypeError):
            continue
    return doc


def _json(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


def garbage() -> st.SearchStrategy[bytes]:
    """Bodies that are not the vendor format at all."""
    return st.one_of(
        st.binary(max_size=300),
        st.sampled_from([b"", b"null", b"{}", b"[]", b"[1, 2]", b"\xff\xfe", b"{\"a\": NaN}",
                         b"[" * 300 + b"]" * 300, b"%ff%fe=1&a", b"<xml/>"]),
    )


def array_body(fixture: list[Any]) -> st.SearchStrategy[bytes]:
    """A JSON array of 1-6 (mutated) fixture items (SendGrid, HubSpot, Salesforce)."""
    return st.lists(st.sampled_from(fixture).flatmap(mutated), min_size=1, max_size=6).map(_json)


def sendgrid_body() -> st.SearchStrategy[bytes]:
    return st.one_of(array_body(SENDGRID), garbage())


def hubspot_body() -> st.SearchStrategy[bytes]:
    return st.one_of(array_body(HUBSPOT), garbage())


def salesforce_body() -> st.SearchStrategy[bytes]:
    return st.one_of(array_body(SALESFORCE), st.sampled_from(SALESFORCE).flatmap(mutated).map(
        _json), garbage())


def outreach_body() -> st.SearchStrategy[bytes]:
    return st.one_of(st.sampled_from(OUTREACH).flatmap(mutated).map(_json), garbage())


@st.composite
def _twilio_form(draw: st.DrawFn) -> bytes:
    form = dict(draw(st.sampled_from(TWILIO)))
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(sorted(form) or ["CallSid"]))
        action = draw(st.sampled_from(["drop", "sql", "huge", "status", "time", "dur"]))
        if action == "drop":
            form.pop(key, None)
        elif action == "sql":
            form[key] = draw(nasty_text)
        elif action == "huge":
            form[key] = "h" * draw(st.sampled_from([129, 5000, 70_000]))
        elif action == "status":
            form["CallStatus"] = draw(st.sampled_from(
                ["completed", "busy", "no-answer", "failed", "canceled", "ringing", "weird", ""]))
        elif action == "time":
            form["Timestamp"] = draw(st.sampled_from(
                ["Mon, 01 Jan 0001 00:00:00 +0000", "Fri, 31 Dec 9999 23:59:59 +0000", "never",
                 "Mon, 16 Aug 2010 03:45:01 +0000", ""]))
        else:
            form["CallDuration"] = draw(st.sampled_from(["-5", "1e9", "NaN", "9" * 40, "x"]))
    return urlencode(form).encode()


def twilio_body() -> st.SearchStrategy[bytes]:
    return st.one_of(_twilio_form(), garbage())
