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
    """Flatten a validated event; ingest and Kafka coordinates are filled in later."""
    get = event.__dict__.get
    closed, won = (stage_outcome(event.to_stage, event.is_closed, event.is_won)
                   if event.type == "stage_change" else (False, False))
    return {
        "event_id": event.event_id,
        "tenant": event.tenant,
        "type": event.type,
        "occurred_at": int(event.occurred_at.timestamp() * 1000),
        "source": event.source,
        "rep_id": event.rep_id,
        "team_id": event.team_id,
        "account_id": event.account_id,
        "prospect_id": event.prospect_id or "",
        "opportunity_id": event.opportunity_id or "",
        "cadence_id": event.cadence_id or "",
        "cadence_step": event.cadence_step or 0,
        "channel": event.channel,
        "is_touch": 1 if event.is_touch else 0,
        "direction": get("direction", ""),
        "outcome": get("outcome", ""),
        "duration_s": get("duration_s", 0),
        "email_action": get("action", ""),
        "meeting_status": get("status", "") if event.type == "meeting" else "",
        "from_stage": get("from_stage", "") or "",
        "to_stage": get("to_stage", ""),
        "disposition": get("disposition", ""),
        "lead_status": get("status", "") if event.type == "lead" else "",
        "schema_version": event.schema_version,
        "motion": event.motion or "",
        "product_line": event.product_line or "",
        "editor_id": event.editor_id or "",
        "vendor_stage": get("vendor_stage", "") or "",
        "is_closed": int(closed),
        "is_won": int(won),
    }
