"""Salesforce Change Data Capture event messages -> stage changes, calls, emails, meetings.

Salesforce does not push CDC over HTTP: a relay (a Pub/Sub API or CometD subscriber) POSTs
each event message, as documented in "Change Event Message Structure" ({"data": {"schema",
"payload": {"ChangeEventHeader", fields...}, "event": {"replayId"}}, "channel"}), or a JSON
array of them, or the bare payload. One change event may name several recordIds: each record
gives one canonical event, event_id `salesforce:<transactionKey>:<sequenceNumber>:<recordId>`.

- Opportunity CREATE, or UPDATE with StageName in changedFields -> `stage_change`, with the
  StageName mapped to the plan's stage (schemas/vendors/stage_map.py; the record type id picks
  a pipeline's section when the stage map has one) and the CRM's name kept as `vendor_stage`;
  `IsClosed` / `IsWon`, when the change carries them, decide closed and won. When the
  change carries the opportunity `Type` (a CREATE carries every set field; an UPDATE only the
  changed ones), it gives the motion: New Business -> acquisition, Existing Business / Upgrade
  / Add-On -> upsell, Renewal -> retention; other values leave the motion unset.
- Task CREATE with TaskSubtype Call -> `call`; TaskSubtype Email -> `email` sent.
- Event CREATE -> `meeting` scheduled.
- The rep is the record's owner: `OwnerId` when the change carries it (a CREATE, an owner
  change), else the opportunity's owner in the identity map / org file, else (nothing better
  known) the user who committed the change. That user is always kept as `editor_id`.
- GAP_* and *_OVERFLOW events carry no field values: they are returned as notices (recorded in
  the DLQ as `unmappable` with the gap's entity, type and record ids, for a re-read), never
  dropped. Other changes are counted in `skipped`.
"""

from __future__ import annotations

from typing import Any

import orjson

from touchline.schemas.vendors import MapContext, Mapped, MappingError, base_event, ms_to_datetime

SOURCE = "salesforce"
_DISPOSITIONS = (
    ("voicemail", "voicemail"),
    ("left message", "voicemail"),
    ("no answer", "no_answer"),
    ("busy", "busy"),
    ("fail", "failed"),
)
#: Opportunity `Type` picklist value (lower case) -> sales motion
OPPORTUNITY_MOTIONS = {
    "new business": "acquisition",
    "new customer": "acquisition",
    "existing business": "upsell",
    "existing customer - upgrade": "upsell",
    "upgrade": "upsell",
    "add-on": "upsell",
    "add-on business": "upsell",
    "renewal": "retention",
}


def parse_messages(body: str) -> list[dict[str, Any]]:
    """The change-event payloads in the body (one message, an array, or bare payloads)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MappingError(f"invalid JSON: {exc}") from exc
    items = doc if isinstance(doc, list) else [doc]
    payloads = []
    for item in items:
        if not isinstance(item, dict):
            raise MappingError("a change event message must be a JSON object")
        if isinstance(item.get("data"), dict):
            payload = item["data"].get("payload")
        else:
            payload = item.get("payload", item)
        if not isinstance(payload, dict) or not isinstance(payload.get("ChangeEventHeader"), dict):
            raise MappingError("ChangeEventHeader missing: not a Change Data Capture event")
        payloads.append(payload)
    return payloads


def call_outcome(disposition: str) -> str:
    """Canonical outcome from a free-text CallDisposition (default: connected)."""
    text = disposition.lower()
    return next((out for word, out in _DISPOSITIONS if word in text), "connected")


def opportunity_motion(opportunity_type: object) -> str | None:
    """The motion an Opportunity `Type` names, or None when it names none we know."""
    if not isinstance(opportunity_type, str):
        return None
    return OPPORTUNITY_MOTIONS.get(" ".join(opportunity_type.lower().split()))


def _plan(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """Which canonical type each record of this change event becomes ('' = none)."""
    entity, change = header.get("entityName"), header.get("changeType")
    changed = header.get("changedFields") or []
    if entity == "Opportunity" and payload.get("StageName") and (
        change == "CREATE" or (change == "UPDATE" and "StageName" in changed)
    ):
        return "stage_change"
    if entity == "Task" and change == "CREATE":
        return {"Call": "call", "Email": "email"}.get(str(payload.get("TaskSubtype")), "")
    if entity == "Event" and change == "CREATE":
        return "meeting"
    return ""


def _map_record(
    record_id: str, type_: str, header: dict[str, Any], payload: dict[str, Any], ctx: MapContext
) -> dict[str, Any]:
    ids = ctx.identities
    editor = ids.rep("salesforce", header["commitUser"]) if header.get("commitUser") else None
    mapped_owner = None
    if type_ == "stage_change":
        opp_id, account_id, mapped_owner = ids.opportunity("salesforce", record_id)
    if payload.get("OwnerId"):
        rep = ids.rep("salesforce", payload["OwnerId"])
    else:
        rep = mapped_owner or editor or ids.rep("salesforce", "?")
    common = {
        "event_id": f"salesforce:{header['transactionKey']}:{header.get('sequenceNumber', 0)}"
        f":{record_id}",
        "source": SOURCE,
        "occurred_at": ms_to_datetime(header.get("commitTimestamp")),
        "rep_id": rep.rep_id,
        "team_id": rep.team_id,
        "editor_id": editor.rep_id if editor else None,
    }
    if type_ == "stage_change":
        if payload.get("AccountId"):
            account_id = ids.account("salesforce", payload["AccountId"])
        event = base_event(
            ctx, type_=type_, opportunity_id=opp_id,
            account_id=account_id or ids.unknown_for("salesforce_opportunity", record_id),
            **common,
        )
        event.update(ctx.stages.stage_fields(
            SOURCE, str(payload["StageName"]), pipeline=payload.get("RecordTypeId"),
            is_closed=payload.get("IsClosed"), is_won=payload.get("IsWon")))
        motion = opportunity_motion(payload.get("Type"))
        if motion:
            event["motion"] = motion
        return event
    prospect_id, account_id = None, None
    if payload.get("WhoId"):
        party, _ = ids.prospect("salesforce", payload["WhoId"])
        prospect_id, account_id = party.prospect_id, party.account_id
    if payload.get("AccountId"):
        account_id = ids.account("salesforce", payload["AccountId"])
    elif payload.get("WhatId") and str(payload["WhatId"]).startswith("001"):
        account_id = ids.account("salesforce", payload["WhatId"])
    event = base_event(
        ctx, type_=type_, prospect_id=prospect_id,
        account_id=account_id or ids.unknown_for("salesforce_record", record_id), **common,
    )
    if type_ == "call":
        inbound = str(payload.get("CallType", "")).lower() == "inbound"
        event.update(
            direction="inbound" if inbound else "outbound",
            outcome=call_outcome(str(payload.get("CallDisposition") or "")),
            duration_s=max(0, min(int(payload.get("CallDurationInSeconds") or 0), 86_400)),
        )
    elif type_ == "email":
        event["action"] = "sent"
    else:
        event["status"] = "scheduled"
    return event


def map_request(body: str, ctx: MapContext) -> Mapped:
    """Map one relayed POST (one or several change event messages)."""
    out = Mapped()
    for payload in parse_messages(body):
        header = payload["ChangeEventHeader"]
        change = str(header.get("changeType", ""))
        entity = str(header.get("entityName", "?"))
        record_ids = [str(r) for r in header.get("recordIds") or []]
        if change.startswith("GAP_") or change.endswith("_OVERFLOW"):
            out.notices.append((
                change.lower(),
                f"salesforce {change} on {entity} records {record_ids or '(all)'} "
                f"transactionKey={header.get('transactionKey')}: re-read these records",
            ))
            continue
        type_ = _plan(header, payload)
        if not type_:
            out.skipped[f"{entity}:{change}"] += len(record_ids) or 1
            continue
        if not header.get("transactionKey") or not record_ids:
            out.rejects.append((payload, "transactionKey and recordIds are required"))
            continue
        for record_id in record_ids:
            try:
                out.events.append(_map_record(record_id, type_, header, payload, ctx))
            except (MappingError, ValueError) as exc:
                out.rejects.append((payload, f"record {record_id}: {exc}"))
    return out
