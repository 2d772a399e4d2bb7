"""The edge writes envelopes with orjson; the pipeline reads them back as `Envelope`."""

from __future__ import annotations

import uuid

import orjson
import pytest

from touchline.schemas.vendors.envelope import Envelope
from touchline.webhooks.server import Rejected, envelope_json, new_request_id

BODIES = [
    b'[{"eventId": 1, "note": "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e"}]',
    b"CallSid=CA1&CallStatus=completed&Caller=%2B15551234567",
    b"",
    b'{"quote": "\\" \\\\ \\n", "control": "\x01\x1f"}',
]


@pytest.mark.parametrize("body", BODIES)
def test_envelope_json_reads_back_as_the_envelope_of_the_request(body):
    headers = {"user-agent": "HubSpot Webhooks \u00e9", "x-hubspot-request-timestamp": "1"}
    request_id = new_request_id()
    raw = envelope_json("hubspot", body, "https://ingest.example/webhooks/hubspot?a=%2F",
                        "POST", "application/json; charset=utf-8", headers, request_id)
    stored = Envelope.model_validate_json(raw)
    expected = Envelope.of(body, source="hubspot", received_at=stored.received_at,
                           url="https://ingest.example/webhooks/hubspot?a=%2F", method="POST",
                           content_type="application/json; charset=utf-8", headers=headers,
                           request_id=request_id)
    assert stored == expected
    assert stored.body_bytes() == body
    assert stored.received_at.utcoffset() is not None and not stored.received_at.utcoffset()
    assert list(orjson.loads(raw)) == list(Envelope.model_fields)  # every field, none extra


def test_a_body_that_is_not_utf8_is_refused_not_stored():
    with pytest.raises(Rejected) as caught:
        envelope_json("outreach", b"\xff\xfe", "u", "POST", "", {}, new_request_id())
    assert caught.value.status == 400


def test_request_ids_are_distinct_uuid4_hex():
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    for request_id in list(ids)[:50]:
        assert len(request_id) == 32 and uuid.UUID(hex=request_id).version == 4
        assert uuid.UUID(hex=request_id).hex == request_id
