"""The flat row of one accepted activity: the `activities` table's columns, in order.

Internal topics carry these rows (as JSON); the sink turns lists of them into Arrow columns.
Times are epoch milliseconds (UTC); empty string means "not set / does not apply".
"""

from __future__ import annotations

from typing import Any

from touchline.schemas.activity import ActivityEvent
from touchline.schemas.stages import stage_outcome

#: column -> kind ("str", "int", "ts"); the order is the table's
ACTIVITY_COLUMNS: dict[str, str] = {
    "event_id": "str",
    "tenant": "str",
    "type": "str",
    "occurred_at": "ts",
    "source": "str",
    "rep_id": "str",
    "team_id": "str",
    "account_id": "str",
    "prospect_id": "str",
    "opportunity_id": "str",
    "cadence_id": "str",
    "cadence_step": "u8",
    "channel": "str",
    "is_touch": "u8",
    "direction": "str",
    "outcome": "str",
    "duration_s": "u32",
    "email_action": "str",
    "meeting_status": "str",
    "from_stage": "str",
    "to_stage": "str",
    "disposition": "str",
    "lead_status": "str",
    "schema_version": "u8",
    "ingested_at": "ts",
    "kafka_partition": "u16",
    "kafka_offset": "u64",
    "motion": "str",
    "product_line": "str",
    "editor_id": "str",
    "vendor_stage": "str",
    "is_closed": "u8",
    "is_won": "u8",
}


def activity_row(event: ActivityEvent) -> dict[str, Any]:
    """Flatten a validated event; ingest and Kafka coordinates are filled in later.

    Reads the model's field values straight from its `__dict__` (pydantic v2 keeps them
    there): one dict lookup each instead of an attribute lookup through the model class.
    """
    d = event.__dict__
    get = d.get
    kind = d["type"]
    if kind == "stage_change":
        closed, won = stage_outcome(d["to_stage"], d["is_closed"], d["is_won"])
    else:
        closed = won = False
    status = get("status", "")
    return {
        "event_id": d["event_id"],
        "tenant": d["tenant"],
        "type": kind,
        "occurred_at": int(d["occurred_at"].timestamp() * 1000),
        "source": d["source"],
        "rep_id": d["rep_id"],
        "team_id": d["team_id"],
        "account_id": d["account_id"],
        "prospect_id": d["prospect_id"] or "",
        "opportunity_id": d["opportunity_id"] or "",
        "cadence_id": d["cadence_id"] or "",
        "cadence_step": d["cadence_step"] or 0,
        "channel": event.channel,
        "is_touch": 1 if event.is_touch else 0,
        "direction": get("direction", ""),
        "outcome": get("outcome", ""),
        "duration_s": get("duration_s", 0),
        "email_action": get("action", ""),
        "meeting_status": status if kind == "meeting" else "",
        "from_stage": get("from_stage", "") or "",
        "to_stage": get("to_stage", ""),
        "disposition": get("disposition", ""),
        "lead_status": status if kind == "lead" else "",
        "schema_version": d["schema_version"],
        "motion": d["motion"] or "",
        "product_line": d["product_line"] or "",
        "editor_id": d["editor_id"] or "",
        "vendor_stage": get("vendor_stage", "") or "",
        "is_closed": 1 if closed else 0,
        "is_won": 1 if won else 0,
    }
