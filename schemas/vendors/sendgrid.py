"""SendGrid Event Webhook (a JSON array of events) -> `email` events, keyed by sg_event_id.

processed -> sent (the touch), delivered -> delivered, open -> opened, click -> clicked,
bounce and dropped -> bounced. deferred (a retry in progress), spamreport, unsubscribe and
group (un)subscribe are counted in `skipped` by event name. The rep is the sender: a
`touchline_rep` custom argument (SendGrid echoes unique args as top-level keys) naming a rep's
email, else the owner of the recipient in the identity map, else `unknown:owner:<recipient>`.
"""

from __future__ import annotations

from typing import Any

import orjson

from touchline.schemas.vendors import MapContext, Mapped, MappingError, base_event, s_to_datetime

SOURCE = "sendgrid"
ACTIONS = {
    "processed": "sent",
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "dropped": "bounced",
}
NOT_ACTIVITIES = {
    "deferred",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
    "group_resubscribe",
}
REP_ARG = "touchline_rep"


def parse_events(body: str) -> list[Any]:
    """The JSON array; raises MappingError if the body is not one."""
    try:
        events = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MappingError(f"invalid JSON: {exc}") from exc
    if not isinstance(events, list):
        raise MappingError("the Event Webhook body must be a JSON array of events")
    return events


def _map_one(item: dict[str, Any], ctx: MapContext) -> dict[str, Any]:
    sg_event_id = str(item.get("sg_event_id") or "").strip()
    if not sg_event_id:
        raise MappingError("sg_event_id missing (it is the dedup key)")
    email = str(item.get("email") or "").strip()
    if not email:
        raise MappingError("email (recipient) missing")
    party, owner = ctx.identities.prospect("email", email)
    if item.get(REP_ARG):
        rep = ctx.identities.rep("email", item[REP_ARG])
    elif owner:
        rep = owner
    else:
        rep = ctx.identities.rep("owner", email)
    event = base_event(
        ctx,
        event_id=f"sendgrid:{sg_event_id}",
        source=SOURCE,
        type_="email",
        occurred_at=s_to_datetime(item.get("timestamp")),
        rep_id=rep.rep_id,
        team_id=rep.team_id,
        account_id=party.account_id,
        prospect_id=party.prospect_id,
    )
    event["action"] = ACTIONS[item["event"]]
    return event


def map_request(body: str, ctx: MapContext) -> Mapped:
    """Map one Event Webhook POST (a batch of events)."""
    out = Mapped()
    for item in parse_events(body):
        if not isinstance(item, dict):
            out.rejects.append((item, "event is not a JSON object"))
            continue
        name = str(item.get("event", ""))
        if name in NOT_ACTIVITIES:
            out.skipped[f"event:{name}"] += 1
            continue
        if name not in ACTIONS:
            out.rejects.append((item, f"unknown SendGrid event {name!r}"))
            continue
        try:
            out.events.append(_map_one(item, ctx))
        except MappingError as exc:
            out.rejects.append((item, exc.reason))
    return out
