"""The canonical event contract: validation, error messages, JSON Schema round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import orjson
import pytest
from pydantic import ValidationError

from touchline.schemas.activity import parse_activity
from touchline.schemas.activity_row import activity_row
from touchline.schemas.errors import describe
from touchline.schemas.export import SCHEMA_FILE, activity_json_schema, render

BASE = {"event_id": "e1", "tenant": "t", "occurred_at": "2026-11-23T10:00:00+01:00",
        "source": "s", "rep_id": "r", "team_id": "tm", "account_id": "a"}
EXAMPLES = [
    {**BASE, "type": "call", "outcome": "connected", "duration_s": 30},
    {**BASE, "type": "email", "action": "sent", "cadence_id": "c", "cadence_step": 2},
    {**BASE, "type": "meeting", "status": "held"},
    {**BASE, "type": "stage_change", "opportunity_id": "o", "to_stage": "won"},
    {**BASE, "type": "disposition", "prospect_id": "p", "disposition": "postpone"},
    {**BASE, "type": "lead", "prospect_id": "p"},
]


@pytest.mark.parametrize("doc", EXAMPLES, ids=lambda d: d["type"])
def test_valid_events_parse_and_match_the_json_schema(doc):
    event = parse_activity(orjson.dumps(doc))
    assert event.occurred_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # stored as UTC
    jsonschema.validate(doc, activity_json_schema())


@pytest.mark.parametrize("when", [1795420800, 1795420800.5, None, True])
def test_occurred_at_must_be_a_string_not_a_number(when):
    """A number would be read as epoch seconds (or ms, by the sender's guess): rejected."""
    with pytest.raises(ValidationError) as info:
        parse_activity(orjson.dumps({**EXAMPLES[1], "occurred_at": when}))
    reason, error = describe(info.value)
    assert reason == "validation"
    assert error.startswith("occurred_at: ") and "RFC 3339 string with an offset" in error


def test_occurred_at_keeps_the_instant_and_is_stored_as_utc():
    doc = {**EXAMPLES[1], "occurred_at": "2026-11-23T04:00:00.250-05:00"}
    event = parse_activity(orjson.dumps(doc))
    assert event.occurred_at == datetime(2026, 11, 23, 9, 0, 0, 250_000, tzinfo=UTC)
    row = activity_row(event)  # what ClickHouse stores: the instant, in UTC epoch ms
    assert row["occurred_at"] == 1_795_424_400_250  # 2026-11-23T09:00:00.250Z


def test_touch_definition():
    touches = {d["type"]: parse_activity(orjson.dumps(d)).is_touch for d in EXAMPLES}
    assert touches == {"call": True, "email": True, "meeting": True, "stage_change": False,
                       "disposition": False, "lead": False}
    inbound = parse_activity(orjson.dumps({**EXAMPLES[0], "direction": "inbound"}))
    assert not inbound.is_touch
    opened = parse_activity(orjson.dumps({**EXAMPLES[1], "action": "opened"}))
    assert not opened.is_touch


@pytest.mark.parametrize(("doc", "reason", "needle"), [
    ({**BASE, "type": "call"}, "validation", "outcome: Field required"),
    ({**BASE, "type": "call", "outcome": "maybe"}, "validation", "outcome: Input should be"),
    ({**BASE, "type": "fax"}, "unknown_type", "type:"),
    ({**BASE, "type": "call", "outcome": "busy", "occurred_at": "2026-11-23T10:00:00"},
     "validation", "occurred_at: Input should have timezone info"),
    ({**BASE, "type": "email", "action": "sent", "cadence_step": "x"}, "validation",
     "cadence_step:"),
])
def test_errors_name_field_and_reason(doc, reason, needle):
    with pytest.raises(ValidationError) as exc:
        parse_activity(orjson.dumps(doc))
    got_reason, text = describe(exc.value)
    assert got_reason == reason
    assert needle in text


def test_invalid_json_reason():
    with pytest.raises(ValidationError) as exc:
        parse_activity(b"{nope")
    assert describe(exc.value)[0] == "invalid_json"


def test_committed_json_schema_matches_the_models():
    assert SCHEMA_FILE.read_text() == render()
    schema = json.loads(SCHEMA_FILE.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**BASE, "type": "call", "outcome": "maybe"}, schema)
