"""Twilio Voice status callbacks (form-encoded) -> one `call` event per call.

Twilio posts one callback per subscribed status (initiated, ringing, answered/in-progress,
completed) and retries a callback it could not deliver. Only the final status (completed, busy,
no-answer, failed, canceled) becomes a touch, with event_id `twilio:<CallSid>`: whatever the
number of callbacks and retries, one call is one event. Earlier statuses are counted in
`skipped` as `status:<CallStatus>`.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

from touchline.schemas.vendors import MapContext, Mapped, MappingError, base_event

SOURCE = "twilio"
FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}
INTERIM_STATUSES = {"queued", "initiated", "ringing", "in-progress", "answered"}
_OUTCOME = {"busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "no_answer"}


def parse_form(body: str) -> list[tuple[str, str]]:
    """The POST parameters, in order; raises MappingError for a body that is not a form."""
    try:
        return parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body), errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MappingError(f"not an application/x-www-form-urlencoded body: {exc}") from exc


def outcome_of(status: str, answered_by: str) -> str:
    """Canonical outcome: a completed call answered by a machine is a voicemail."""
    if status == "completed":
        return "voicemail" if answered_by.startswith(("machine", "fax")) else "connected"
    return _OUTCOME[status]


def map_request(body: str, ctx: MapContext) -> Mapped:
    """Map one status callback."""
    params = dict(parse_form(body))
    call_sid = params.get("CallSid", "").strip()
    if not call_sid:
        raise MappingError("CallSid missing")
    status = params.get("CallStatus", "").strip().lower()
    out = Mapped()
    if status in INTERIM_STATUSES:
        out.skipped[f"status:{status}"] += 1
        return out
    if status not in FINAL_STATUSES:
        raise MappingError(f"unknown CallStatus {status!r}")
    inbound = params.get("Direction", "").startswith("inbound")
    rep_number, other_number = (
        (params.get("To", ""), params.get("From", ""))
        if inbound
        else (params.get("From", ""), params.get("To", ""))
    )
    rep = ctx.identities.rep("phone", rep_number)
    party, _owner = ctx.identities.prospect("phone", other_number)
    occurred_at = ctx.received_at
    if params.get("Timestamp"):
        try:
            occurred_at = parsedate_to_datetime(params["Timestamp"])
        except (TypeError, ValueError) as exc:
            raise MappingError(f"bad Timestamp {params['Timestamp']!r}") from exc
    try:
        duration = max(0, int(params.get("CallDuration") or 0))
    except ValueError as exc:
        raise MappingError(f"bad CallDuration {params.get('CallDuration')!r}") from exc
    event = base_event(
        ctx,
        event_id=f"twilio:{call_sid}",
        source=SOURCE,
        type_="call",
        occurred_at=occurred_at,
        rep_id=rep.rep_id,
        team_id=rep.team_id,
        account_id=party.account_id,
        prospect_id=party.prospect_id,
    )
    event.update(
        direction="inbound" if inbound else "outbound",
        outcome=outcome_of(status, params.get("AnsweredBy", "").lower()),
        duration_s=min(duration, 86_400),
    )
    out.events.append(event)
    return out
