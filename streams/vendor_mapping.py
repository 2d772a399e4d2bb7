"""Map one `raw.<source>` message (an Envelope) to a canonical JSONL batch and dead letters.

Used by the map_<source> agents (streams/agents/map_vendor_events.py); pure apart from the
identity resolver's unknown-identity counter. Every mapped event is validated against the
canonical schema here, so that a mapping gap lands in the DLQ with the vendor payload, not
downstream without it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import orjson
from pydantic import ValidationError

from touchline.schemas.activity import activity_adapter
from touchline.schemas.dead_letter import DeadLetter
from touchline.schemas.errors import describe
from touchline.schemas.vendors import (
    MapContext,
    Mapped,
    MappingError,
    hubspot,
    outreach,
    salesforce,
    sendgrid,
    twilio,
)
from touchline.schemas.vendors.envelope import Envelope
from touchline.schemas.vendors.identities import IdentityResolver
from touchline.schemas.vendors.stage_map import DEFAULT_STAGE_MAP, StageMap

MAPPERS: dict[str, Callable[[str, MapContext], Mapped]] = {
    "twilio": twilio.map_request,
    "sendgrid": sendgrid.map_request,
    "salesforce": salesforce.map_request,
    "hubspot": hubspot.map_request,
    "outreach": outreach.map_request,
}


@dataclass
class MapOutcome:
    """What one raw vendor message produced."""

    events: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    #: `unknown:<kind>:<value>` ids this message introduced (kept in the events, flagged here)
    unknown_identities: Counter[str] = field(default_factory=Counter)


def map_message(
    raw: bytes,
    resolver: IdentityResolver,
    tenant: str,
    *,
    source_topic: str,
    partition: int = -1,
    offset: int = -1,
    stages: StageMap = DEFAULT_STAGE_MAP,
) -> MapOutcome:
    """Envelope bytes -> canonical events, dead letters (reason `unmappable`) and counts."""
    out = MapOutcome()
    where = {"source_topic": source_topic, "partition": partition, "offset": offset}
    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as exc:
        error = f"not an envelope: {exc}"
        out.dead_letters.append(DeadLetter.of(raw, "unmappable", error, **where))
        return out
    try:
        body = envelope.body_bytes()
    except ValueError as exc:  # base64 that does not decode (binascii.Error)
        out.dead_letters.append(DeadLetter.of(raw, "unmappable", f"body does not decode: {exc}",
                                              **where))
        return out
    where.update(origin=f"{envelope.source}:{envelope.request_id}", tenant=tenant)
    mapper = MAPPERS.get(envelope.source)
    before = Counter(resolver.unknown)
    ctx = MapContext(
        tenant=tenant,
        identities=resolver,
        received_at=envelope.received_at.astimezone(UTC)
        if envelope.received_at.tzinfo
        else envelope.received_at.replace(tzinfo=UTC),
        headers=envelope.headers,
        content_type=envelope.content_type,
        stages=stages,
    )
    try:
        if mapper is None:
            raise MappingError(f"no mapping for source {envelope.source!r}")
        mapped = mapper(body.decode("utf-8"), ctx)
    except (MappingError, UnicodeDecodeError) as exc:
        out.dead_letters.append(DeadLetter.of(body, "unmappable", str(exc), **where))
        return out
    except Exception as exc:
        error = f"payload shape not mappable ({type(exc).__name__}: {exc})"
        out.dead_letters.append(DeadLetter.of(body, "unmappable", error, **where))
        return out
    out.skipped = mapped.skipped
    for item, error in mapped.rejects:
        rejected = _item_bytes(item, body)
        out.dead_letters.append(DeadLetter.of(rejected, "unmappable", error, **where))
    for kind, detail in mapped.notices:
        out.dead_letters.append(DeadLetter.of(body, "unmappable", f"{kind}: {detail}", **where))
    for event in mapped.events:
        try:
            # as the pipeline will read the line: JSON (strict about occurred_at's type)
            activity_adapter.validate_json(orjson.dumps(event))
        except ValidationError as exc:
            _, error = describe(exc)
            out.dead_letters.append(
                DeadLetter.of(
                    body, "unmappable", f"mapped event invalid: {error}",
                    event_id=event.get("event_id", ""), **where,
                )
            )
            continue
        out.events.append(event)
    out.unknown_identities = Counter(resolver.unknown) - before
    return out


def _item_bytes(item: Any, body: bytes) -> bytes:
    """One rejected batch item as JSON; the whole body when it cannot be re-encoded (too deep)."""
    try:
        return orjson.dumps(item)
    except (orjson.JSONEncodeError, TypeError):
        return body
