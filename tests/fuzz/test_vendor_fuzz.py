"""Fuzz every vendor mapping through the real agent path: Envelope bytes -> `map_message`.

Bodies are the documented fixtures broken at random (wrong types, missing fields, NaN/Infinity,
huge/SQL strings, deep JSON, far timestamps) or garbage / invalid UTF-8; envelopes themselves
are broken too. Invariant: no exception escapes; every vendor event ends as a valid canonical
event, a counted skip, or an `unmappable` dead letter with an error; for bodies whose item count
is unambiguous, outcomes = vendor events in. 4,000 generated inputs in total.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import fuzz
from tests.fuzz import vendor_strategies as vs
from tests.fuzz.envelope_check import envelope, map_and_check
from touchline.schemas.vendors.identities import IdentityResolver
from touchline.streams.vendor_mapping import MAPPERS, map_message

BODIES = {
    "twilio": vs.twilio_body(),
    "sendgrid": vs.sendgrid_body(),
    "hubspot": vs.hubspot_body(),
    "salesforce": vs.salesforce_body(),
    "outreach": vs.outreach_body(),
}


def test_every_mapper_is_fuzzed() -> None:
    assert set(BODIES) == set(MAPPERS)


@pytest.mark.parametrize("source", sorted(BODIES))
def test_vendor_body(source: str) -> None:
    @fuzz(600)
    @given(BODIES[source])
    def run(body: bytes) -> None:
        map_and_check(envelope(source, body), source, body)

    run()


@fuzz(1000)
@given(st.one_of(
    st.binary(max_size=500),
    st.builds(lambda src, body: envelope(src, body).replace(b'"utf-8"', b'"base64"'),
              st.sampled_from(sorted(BODIES) + ["unknown", ""]), st.binary(max_size=100)),
    st.builds(lambda d: json.dumps(d).encode(), st.fixed_dictionaries({
        "source": st.sampled_from(sorted(BODIES)), "received_at": st.sampled_from(
            ["2026-01-01T00:00:00", "9999-12-31T23:59:59Z", "x", 5]),
        "url": st.just("/"), "method": st.just("POST"), "content_type": st.just(""),
        "headers": st.just({}), "body": st.text(max_size=50),
        "body_encoding": st.sampled_from(["utf-8", "base64", "gzip"]),
        "request_id": st.text(max_size=10)})),
))
def test_broken_envelopes(raw: bytes) -> None:
    out = map_message(raw, IdentityResolver(), "acme", source_topic="raw.x")
    for dl in out.dead_letters:
        assert dl.reason == "unmappable" and dl.error.strip()
    if not (out.events or out.skipped or out.dead_letters):  # only an empty vendor batch
        assert _body_of(raw).strip() in (b"[]", b"")


def _body_of(raw: bytes) -> bytes:
    doc = json.loads(raw)
    body = doc["body"].encode()
    return base64.b64decode(body) if doc.get("body_encoding") == "base64" else body


def test_base64_body_that_does_not_decode_is_a_dead_letter() -> None:
    raw = envelope("sendgrid", b"x").replace(b'"utf-8"', b'"base64"').replace(
        b'"body":"x"', b'"body":"' + base64.b64encode(b"ok")[:-1] + b'"')
    out = map_message(raw, IdentityResolver(), "acme", source_topic="raw.sendgrid")
    assert len(out.dead_letters) == 1 and out.dead_letters[0].error
