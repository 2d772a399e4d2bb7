"""The flat row of one accepted activity, and the line the worker inserts instead.

`activity_row` is the row (the `activities` table's columns, in order); `activity_line` the
JSON line the engine turns into that row (migration 0053). Times are epoch milliseconds
(UTC); empty string means "not set / does not apply".
"""

from __future__ import annotations

from typing import Any

import orjson

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


#: the columns a row of `activity_row` has, each with its "not set" value: ingest time and
#: Kafka coordinates are filled in later
_BLANK_ROW: dict[str, Any] = {
    column: "" if kind == "str" else 0 for column, kind in ACTIVITY_COLUMNS.items()
    if column not in ("ingested_at", "kafka_partition", "kafka_offset")
}
#: string fields every event type has, copied as they are: the engine reads them from an
#: accepted event's own JSON text (`activity_line`); None stays the column's "not set" value
TEXT_FIELDS = ("event_id", "tenant", "type", "source", "rep_id", "team_id", "account_id",
               "prospect_id", "opportunity_id", "cadence_id", "motion", "product_line",
               "editor_id")
#: event type -> (column, field) of the fields only that type has
_BY_TYPE: dict[str, tuple[tuple[str, str], ...]] = {
    "call": (("direction", "direction"), ("outcome", "outcome"), ("duration_s", "duration_s")),
    "email": (("email_action", "action"),),
    "meeting": (("meeting_status", "status"),),
    "lead": (("lead_status", "status"),),
    "disposition": (("disposition", "disposition"),),
    "stage_change": (("from_stage", "from_stage"), ("to_stage", "to_stage"),
                     ("vendor_stage", "vendor_stage")),
}


def decided_columns(event: ActivityEvent, occurred_ms: int) -> dict[str, Any]:
    """The columns the model decides: every one but `TEXT_FIELDS` and ingest coordinates.

    The instant (`occurred_ms`, epoch ms), channel and touch (schemas/activity.py), the
    schema version, the cadence step and the fields only the event's type has as validated
    (with the model's defaults), the stage outcome (schemas/stages.py). A column whose value
    is not set is left out. Reads the model's values straight from its `__dict__` (pydantic
    v2 keeps them there; bench/profiles/20261207T025000Z-activity-row.py).
    """
    d = event.__dict__
    kind = d["type"]
    decided: dict[str, Any] = {
        "occurred_at": occurred_ms, "channel": event.channel,
        "is_touch": 1 if event.is_touch else 0, "schema_version": d["schema_version"],
    }
    step = d["cadence_step"]
    if step:
        decided["cadence_step"] = step
    for column, field in _BY_TYPE[kind]:
        value = d[field]
        if value:
            decided[column] = value
    if kind == "stage_change":
        closed, won = stage_outcome(d["to_stage"], d["is_closed"], d["is_won"])
        decided["is_closed"], decided["is_won"] = int(closed), int(won)
    return decided


def activity_row(event: ActivityEvent) -> dict[str, Any]:
    """Flatten a validated event; ingest and Kafka coordinates are filled in later."""
    d = event.__dict__
    row = _BLANK_ROW.copy()
    for field in TEXT_FIELDS:
        value = d[field]
        if value:
            row[field] = value
    row.update(decided_columns(event, int(d["occurred_at"].timestamp() * 1000)))
    return row


def plain_text(data: bytes) -> bool:
    """True when the engine reads every string of `data` as the model did.

    JSON text the model validated decodes the same in both (escapes, UTF-8), except where
    the model strips whitespace, which can only hide behind a space next to a quote, an
    escape, or a character outside ASCII: any of those and the text fields are written from
    the model instead (raw control characters are invalid JSON, refused by validation).
    """
    return data.isascii() and b"\\" not in data and (
        b" " not in data or (b'" ' not in data and b' "' not in data))


def activity_line(event: ActivityEvent, data: bytes, occurred_ms: int) -> bytes:
    """One JSON object of `accepted_events` (migration 0053) for a validated event.

    Its keys are the columns the model decides (`decided_columns`; the instant as
    `occurred_at_ms`) and `event`: the event's own JSON text, `data` as received, from which
    the engine reads the text fields (`TEXT_FIELDS`) and nothing else, so no row is built and
    nothing is written out again. When the text is not plain (`plain_text`), `event` holds
    the text fields as the model made them. The sink puts ingest time and Kafka coordinates
    in front (sinks/rows.py `accepted_events_json`). ClickHouse makes the row `activity_row`
    makes (tests/integration/test_accepted_events.py).
    """
    decided = decided_columns(event, occurred_ms)
    decided["occurred_at_ms"] = decided.pop("occurred_at")
    if plain_text(data):
        return orjson.dumps(decided)[:-1] + b',"event":' + data + b"}"
    d = event.__dict__
    decided["event"] = {field: d[field] for field in TEXT_FIELDS}
    return orjson.dumps(decided)


def accepted_row(event: ActivityEvent, data: bytes) -> dict[str, Any]:
    """What the worker keeps of an accepted event: what it decides on, and its line.

    The fields dedup, lateness and partitioning read; for a stage change the whole row
    (streams/dwell.py reads its stages and owner). `_event_json` is `activity_line`.
    """
    d = event.__dict__
    if d["type"] == "stage_change":
        row = activity_row(event)
    else:
        row = {"event_id": d["event_id"], "tenant": d["tenant"], "type": d["type"],
               "occurred_at": int(d["occurred_at"].timestamp() * 1000),
               "account_id": d["account_id"]}
    row["_event_json"] = activity_line(event, data, row["occurred_at"])
    return row
