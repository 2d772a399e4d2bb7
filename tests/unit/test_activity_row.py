"""The activity row: every column of every event type, filled from the event or left blank."""

from __future__ import annotations

import typing

import orjson

from touchline.schemas.activity import ActivityBase, ActivityEvent, parse_activity
from touchline.schemas.activity_row import ACTIVITY_COLUMNS, activity_row

BASE = {"event_id": "e-1", "tenant": "t", "source": "crm", "rep_id": "r", "team_id": "T",
        "account_id": "A", "occurred_at": "2026-11-02T11:30:00.250+01:00"}
LATER = ("ingested_at", "kafka_partition", "kafka_offset")  # filled in when recorded


def row(**fields: object) -> dict:
    return activity_row(parse_activity(orjson.dumps({**BASE, **fields})))


def blank(**columns: object) -> dict:
    """The row of an event of BASE with only `columns` set beyond the common ones."""
    out = {c: ("" if kind == "str" else 0) for c, kind in ACTIVITY_COLUMNS.items()
           if c not in LATER}
    out.update(event_id="e-1", tenant="t", source="crm", rep_id="r", team_id="T",
               account_id="A", occurred_at=1_793_615_400_250, schema_version=1)
    out.update(columns)
    return out


def test_every_type_fills_its_own_columns_and_leaves_the_others_blank():
    assert row(type="call", outcome="connected", duration_s=95) == blank(
        type="call", direction="outbound", outcome="connected", duration_s=95,
        channel="call", is_touch=1)
    assert row(type="call", direction="inbound", outcome="connected") == blank(
        type="call", direction="inbound", outcome="connected", channel="call")
    assert row(type="email", action="sent", prospect_id="p") == blank(
        type="email", email_action="sent", prospect_id="p", channel="email", is_touch=1)
    assert row(type="meeting", status="held", opportunity_id="o") == blank(
        type="meeting", meeting_status="held", opportunity_id="o", channel="meeting",
        is_touch=1)
    assert row(type="lead", status="created", prospect_id="p") == blank(
        type="lead", lead_status="created", prospect_id="p")
    assert row(type="disposition", disposition="postpone", prospect_id="p",
               cadence_id="c", cadence_step=3) == blank(
        type="disposition", disposition="postpone", prospect_id="p", cadence_id="c",
        cadence_step=3)
    assert row(type="stage_change", opportunity_id="o", to_stage="won",
               vendor_stage="Closed Won", motion="upsell", product_line="pl",
               editor_id="u") == blank(
        type="stage_change", opportunity_id="o", to_stage="won",
        vendor_stage="Closed Won", motion="upsell", product_line="pl", editor_id="u",
        is_closed=1, is_won=1)


def test_every_field_of_every_type_has_its_column():
    """A field added to an event type must reach the row (or be named here as not kept)."""
    not_columns = {"type", "occurred_at", "is_closed", "is_won"}  # kept in other forms
    renamed = {"action": "email_action"}
    for model in typing.get_args(typing.get_args(ActivityEvent)[0]):
        kind = typing.get_args(model.model_fields["type"].annotation)[0]
        own = set(model.model_fields) - set(ActivityBase.model_fields) - not_columns
        if "status" in own:  # meetings and leads keep their status apart
            own = own - {"status"} | {f"{kind}_status"}
        columns = {renamed.get(field, field) for field in own}
        assert columns <= set(ACTIVITY_COLUMNS), (kind, columns - set(ACTIVITY_COLUMNS))
        filled = {c for c, v in row(**_minimal(kind)).items() if v not in ("", 0)}
        assert columns <= filled, (kind, columns - filled)


def _minimal(kind: str) -> dict:
    """An event of `kind` with every type-specific field set to a non-blank value."""
    return {
        "call": {"type": "call", "outcome": "connected", "direction": "inbound",
                 "duration_s": 5},
        "email": {"type": "email", "action": "sent"},
        "meeting": {"type": "meeting", "status": "held"},
        "lead": {"type": "lead", "status": "created", "prospect_id": "p"},
        "disposition": {"type": "disposition", "disposition": "postpone", "prospect_id": "p"},
        "stage_change": {"type": "stage_change", "opportunity_id": "o", "from_stage": "a",
                         "to_stage": "b", "vendor_stage": "B"},
    }[kind]
