"""Outreach webhooks (JSON:API, only changed attributes, `meta.eventName` / `meta.jobId`).

- mailing.delivered -> `email` sent (Outreach's "delivered" is the mailing leaving the rep's
  mailbox: the touch), mailing.opened -> opened, mailing.replied -> replied,
  mailing.bounced -> bounced.
- call.created -> `call` (outcome from the call's `outcome`/`state` attributes).
- sequenceState.finished -> `disposition` archive; sequenceState paused -> postpone.
Other events are counted in `skipped`. event_id is `outreach:<jobId>` (one delivery job per
event; Outreach does not retry, and the ingest server stores before it answers).
The rep is the `user` (or `owner`) relationship, the prospect the `prospect` relationship.
"""

from __future__ import annotations

from typing import Any

import orjson

from touchline.schemas.vendors import (
    MapContext,
    Mapped,
    MappingError,
    base_event,
    iso_to_datetime,
)

SOURCE = "outreach"
MAILING = {"delivered": "sent", "opened": "opened", "replied": "replied", "bounced": "bounced"}
_TIME_ATTR = {"delivered": "deliveredAt", "opened": "openedAt", "replied": "repliedAt",
              "bounced": "bouncedAt"}


def parse_body(body: str) -> dict[str, Any]:
    """The JSON:API document; raises MappingError if it is not one."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MappingError(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise MappingError("an Outreach webhook body is a JSON:API document with `data`")
    if not isinstance(doc.get("meta"), dict) or not doc["meta"].get("eventName"):
        raise MappingError("meta.eventName missing")
    return doc


def _rel(data: dict[str, Any], name: str) -> str | None:
    rel = (data.get("relationships") or {}).get(name) or {}
    target = rel.get("data") if isinstance(rel, dict) else None
    return str(target["id"]) if isinstance(target, dict) and target.get("id") is not None else None


def call_outcome(attrs: dict[str, Any]) -> str:
    """Canonical outcome from Outreach's call outcome / state text."""
    text = f"{attrs.get('outcome') or ''} {attrs.get('state') or ''}".lower()
    if "voicemail" in text:
        return "voicemail"
    if "not answered" in text or "no_answer" in text or "no answer" in text:
        return "no_answer"
    if "busy" in text:
        return "busy"
    if "fail" in text or "error" in text:
        return "failed"
    return "connected"


def _plan(event_name: str, attrs: dict[str, Any]) -> tuple[str, dict[str, Any], str | None]:
    """(canonical type, type-specific fields, attribute holding the event time)."""
    resource, _, action = event_name.partition(".")
    if resource == "mailing" and action in MAILING:
        return "email", {"action": MAILING[action]}, _TIME_ATTR[action]
    if event_name == "call.created":
        inbound = str(attrs.get("direction", "")).lower() == "inbound"
        fields = {"direction": "inbound" if inbound else "outbound",
                  "outcome": call_outcome(attrs)}
        return "call", fields, "completedAt"
    if resource == "sequenceState":
        state = str(attrs.get("state", "")).lower()
        if action == "finished" or state == "finished":
            return "disposition", {"disposition": "archive"}, "updatedAt"
        if state == "paused":
            return "disposition", {"disposition": "postpone"}, "updatedAt"
    return "", {}, None


def map_request(body: str, ctx: MapContext) -> Mapped:
    """Map one webhook POST (one resource event)."""
    doc = parse_body(body)
    data, meta = doc["data"], doc["meta"]
    attrs = data.get("attributes") or {}
    event_name = str(meta["eventName"])
    out = Mapped()
    type_, fields, time_attr = _plan(event_name, attrs)
    if not type_:
        out.skipped[f"event:{event_name}"] += 1
        return out
    job_id = str(meta.get("jobId") or "").strip()
    if not job_id:
        raise MappingError("meta.jobId missing (it is the dedup key)")
    ids = ctx.identities
    user_id = _rel(data, "user") or _rel(data, "owner")
    prospect_ref = _rel(data, "prospect")
    party, owner = ids.prospect("outreach_prospect", prospect_ref or "?")
    rep = ids.rep("outreach_user", user_id) if user_id else (owner or ids.rep("outreach_user", "?"))
    when = attrs.get(time_attr) if time_attr else None
    occurred_at = iso_to_datetime(when or meta.get("deliveredAt") or ctx.received_at.isoformat())
    if type_ == "disposition" and not prospect_ref:
        raise MappingError("sequenceState event without a prospect relationship")
    sequence = _rel(data, "sequence")
    event = base_event(
        ctx,
        event_id=f"outreach:{job_id}",
        source=SOURCE,
        type_=type_,
        occurred_at=occurred_at,
        rep_id=rep.rep_id,
        team_id=rep.team_id,
        account_id=party.account_id,
        prospect_id=party.prospect_id,
        cadence_id=f"outreach:sequence:{sequence}" if sequence else None,
    )
    event.update(fields)
    out.events.append(event)
    return out

