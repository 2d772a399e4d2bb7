"""HubSpot webhooks (a JSON array of events) -> stage changes and engagements, keyed by eventId.

- `deal.propertyChange` (legacy) or `object.propertyChange` on objectTypeId 0-3 with
  propertyName `dealstage` -> `stage_change`: the new stage's internal value mapped to the
  plan's stage (schemas/vendors/stage_map.py) and kept as `vendor_stage`; the webhook does not
  carry the previous stage, so from_stage stays empty. The rep is the deal's owner from the
  identity map / org file when known (else the user who made the change).
- `object.creation` on calls (0-48) -> `call`, emails (0-49) -> `email` sent, meetings (0-47)
  -> `meeting` scheduled. The creation event carries no disposition: a logged call is recorded
  as `connected` (it was logged because it happened).
- Anything else (contact creation, other properties, deletions...) is counted in `skipped`.
The user in `sourceId` (`userId:<id>`) made the change: the rep of an engagement, the
`editor_id` of a deal change; unknown users read `unknown:hubspot_user:...`.
"""

from __future__ import annotations

from typing import Any

import orjson

from touchline.schemas.vendors import MapContext, Mapped, MappingError, base_event, ms_to_datetime

SOURCE = "hubspot"
DEAL = "0-3"
ENGAGEMENTS = {
    "0-48": ("call", {"direction": "outbound", "outcome": "connected", "duration_s": 0}),
    "0-49": ("email", {"action": "sent"}),
    "0-47": ("meeting", {"status": "scheduled"}),
}


def parse_events(body: str) -> list[Any]:
    """The JSON array; raises MappingError if the body is not one."""
    try:
        events = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MappingError(f"invalid JSON: {exc}") from exc
    if not isinstance(events, list):
        raise MappingError("a HubSpot webhook body must be a JSON array of events")
    return events


def _kind(item: dict[str, Any]) -> tuple[str, str | None]:
    """(what the event is: stage / engagement type / '', engagement objectTypeId)."""
    sub = str(item.get("subscriptionType", ""))
    type_id = str(item.get("objectTypeId", ""))
    if item.get("propertyName") == "dealstage" and (
        sub == "deal.propertyChange" or (sub == "object.propertyChange" and type_id == DEAL)
    ):
        return "stage", None
    if sub == "object.creation" and type_id in ENGAGEMENTS:
        return ENGAGEMENTS[type_id][0], type_id
    return "", None


def _rep(item: dict[str, Any], ctx: MapContext) -> Any:
    source_id = str(item.get("sourceId") or "")
    if source_id.startswith("userId:"):
        return ctx.identities.rep("hubspot_user", source_id.split(":", 1)[1])
    return ctx.identities.rep("hubspot_user", source_id or "?")


def _map_one(item: dict[str, Any], kind: str, type_id: str | None, ctx: MapContext) -> dict:
    event_id = item.get("eventId")
    object_id = item.get("objectId")
    if event_id in (None, "") or object_id in (None, ""):
        raise MappingError("eventId and objectId are required")
    occurred_at = ms_to_datetime(item.get("occurredAt"))
    rep = _rep(item, ctx)
    common = {"event_id": f"hubspot:{event_id}", "source": SOURCE, "occurred_at": occurred_at}
    if kind == "stage":
        stage = str(item.get("propertyValue") or "").strip()
        if not stage:
            raise MappingError("dealstage change without propertyValue")
        opp_id, account_id, owner = ctx.identities.opportunity("hubspot_deal", object_id)
        editor, rep = rep, owner or rep
        event = base_event(
            ctx, type_="stage_change", rep_id=rep.rep_id, team_id=rep.team_id,
            account_id=account_id or ctx.identities.unknown_for("hubspot_deal", object_id),
            opportunity_id=opp_id, editor_id=editor.rep_id, **common,
        )
        event.update(ctx.stages.stage_fields(SOURCE, stage))
        return event
    account = ctx.identities.unknown_for(f"hubspot_{kind}", object_id)
    event = base_event(
        ctx, type_=kind, rep_id=rep.rep_id, team_id=rep.team_id, account_id=account, **common
    )
    event.update(ENGAGEMENTS[type_id or ""][1])
    return event


def map_request(body: str, ctx: MapContext) -> Mapped:
    """Map one webhook POST (HubSpot batches up to 100 events)."""
    out = Mapped()
    for item in parse_events(body):
        if not isinstance(item, dict):
            out.rejects.append((item, "event is not a JSON object"))
            continue
        kind, type_id = _kind(item)
        if not kind:
            out.skipped[f"{item.get('subscriptionType', '?')}:{item.get('propertyName', '')}"] += 1
            continue
        try:
            out.events.append(_map_one(item, kind, type_id, ctx))
        except MappingError as exc:
            out.rejects.append((item, exc.reason))
    return out
