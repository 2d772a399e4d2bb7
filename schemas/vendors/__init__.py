"""Pure vendor mappings: one vendor request body -> canonical activity event dicts.

One module per vendor (twilio, sendgrid, salesforce, hubspot, outreach), each exposing
`map_request(body, ctx) -> Mapped`. No I/O: the identity map comes in through `ctx`.
A body that cannot be read at all raises `MappingError(reason)`; a single unusable item of a
batch is returned in `Mapped.rejects` (it goes to the DLQ alone, its siblings still map);
vendor events that are deliberately not activities (a Twilio `ringing` callback, a SendGrid
`deferred`) are counted in `Mapped.skipped`, never dropped silently; Salesforce gap and overflow
events are returned in `Mapped.notices` so that they are recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from touchline.schemas.vendors.identities import IdentityResolver
from touchline.schemas.vendors.stage_map import DEFAULT_STAGE_MAP, StageMap


class MappingError(ValueError):
    """The vendor payload cannot be mapped; `reason` says why (goes into the DLQ)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MapContext:
    """What a mapping needs besides the body."""

    tenant: str
    identities: IdentityResolver
    #: when the ingest server accepted the request (fallback event time)
    received_at: datetime
    #: the request headers the envelope kept (lower-case names)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    #: vendor stage names -> the plan's stages (defaults: Salesforce's and HubSpot's own)
    stages: StageMap = DEFAULT_STAGE_MAP


@dataclass
class Mapped:
    """The result of mapping one vendor request."""

    events: list[dict[str, Any]] = field(default_factory=list)
    #: vendor event kind -> count of events deliberately not mapped to an activity
    skipped: Counter[str] = field(default_factory=Counter)
    #: (item as JSON-able object, error) of batch items that could not be mapped
    rejects: list[tuple[Any, str]] = field(default_factory=list)
    #: (kind, detail): vendor events to record as such (Salesforce gap / overflow)
    notices: list[tuple[str, str]] = field(default_factory=list)


def ms_to_datetime(value: Any) -> datetime:
    """Epoch milliseconds (int or numeric string) -> aware UTC datetime."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise MappingError(f"bad epoch milliseconds: {value!r}") from exc


def s_to_datetime(value: Any) -> datetime:
    """Epoch seconds (int or numeric string) -> aware UTC datetime."""
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise MappingError(f"bad epoch seconds: {value!r}") from exc


def iso_to_datetime(value: Any) -> datetime:
    """ISO-8601 string (a trailing Z allowed) -> aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise MappingError(f"bad ISO timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def base_event(
    ctx: MapContext, *, event_id: str, source: str, type_: str, occurred_at: datetime, **ids: Any
) -> dict[str, Any]:
    """The fields every canonical event carries, with None-valued optionals left out."""
    if occurred_at.tzinfo is None:  # vendors that omit the zone mean UTC
        occurred_at = occurred_at.replace(tzinfo=UTC)
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id[:128],
        "tenant": ctx.tenant,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "source": source,
        "type": type_,
    }
    event.update({k: v for k, v in ids.items() if v is not None})
    return event
