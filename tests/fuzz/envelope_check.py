"""Run one vendor body through the real mapping path (Envelope -> map_message) and check it."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from touchline.schemas.activity import activity_adapter
from touchline.schemas.vendors.envelope import Envelope
from touchline.schemas.vendors.identities import IdentityResolver
from touchline.streams.vendor_mapping import MapOutcome, map_message

CONTENT_TYPES = {"twilio": "application/x-www-form-urlencoded"}


def envelope(source: str, body: bytes) -> bytes:
    """The raw.<source> message the ingest server would have written for this body."""
    return Envelope.of(
        body, source=source, received_at=datetime.now(UTC), url=f"https://x.example/{source}",
        method="POST", content_type=CONTENT_TYPES.get(source, "application/json"),
        headers={}, request_id="req-1",
    ).model_dump_json().encode()


def map_and_check(raw: bytes, source: str, body: bytes | None) -> MapOutcome:
    """Map one envelope; assert: every outcome is a valid event or a reasoned dead letter,
    and (for bodies whose item count is known) outcomes = vendor events in."""
    out = map_message(raw, IdentityResolver(), "acme", source_topic=f"raw.{source}")
    for event in out.events:
        activity_adapter.validate_json(orjson.dumps(event))  # raises if not canonical
    for dl in out.dead_letters:
        assert dl.reason == "unmappable" and dl.error.strip(), dl
    total = len(out.events) + len(out.dead_letters) + sum(out.skipped.values())
    expected = items_in(source, body)
    if expected is None:
        assert total >= 1, (source, body)
    else:
        assert total == expected, (total, expected, out)
    return out


def items_in(source: str, body: bytes | None) -> int | None:
    """Vendor events in a body whose count is unambiguous (None: at least one)."""
    if body is None:
        return 1
    if source in ("twilio", "outreach"):
        return 1  # one request, one event (or one dead letter)
    try:
        doc = orjson.loads(body)  # what the mappings parse with (no NaN/Infinity literals)
    except orjson.JSONDecodeError:
        return 1  # not JSON: one dead letter for the body
    if source in ("sendgrid", "hubspot"):
        return len(doc) if isinstance(doc, list) else 1
    if doc == []:
        return 0
    return None  # salesforce: one change event may name several records
