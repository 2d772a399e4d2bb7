"""Each vendor's signature check against its documented algorithm and published vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from touchline.webhooks import signatures


def _lines(body_of, name):
    return body_of(name).split("\n")


def test_twilio_documented_vector(body_of):
    token, url, form, expected = _lines(body_of, "twilio_signature_vector.txt")
    params = parse_qsl(form)
    assert signatures.twilio_signature(token, url, params) == expected
    assert signatures.verify_twilio(token, url, params, expected)


def test_twilio_rejects_tampering(body_of):
    token, url, form, expected = _lines(body_of, "twilio_signature_vector.txt")
    params = parse_qsl(form)
    tampered = [(k, "9999" if k == "Digits" else v) for k, v in params]
    assert not signatures.verify_twilio(token, url, tampered, expected)
    assert not signatures.verify_twilio(token, url + "&x=1", params, expected)
    assert not signatures.verify_twilio("other-token", url, params, expected)


def test_twilio_accepts_url_with_explicit_port():
    params = [("CallSid", "CA1"), ("CallStatus", "completed")]
    signed = signatures.twilio_signature("t", "https://h.example/webhooks/twilio", params)
    assert signatures.verify_twilio("t", "https://h.example:443/webhooks/twilio", params, signed)


def test_sendgrid_documented_vector(body_of):
    key, timestamp, body, signature = _lines(body_of, "sendgrid_signature_vector.txt")
    assert signatures.verify_sendgrid(key, signature, timestamp, body.encode())
    assert not signatures.verify_sendgrid(key, signature, "1588788368", body.encode())
    assert not signatures.verify_sendgrid(key, signature, timestamp, body.encode() + b" ")


def test_sendgrid_generated_key_pair(sendgrid_keys):
    private, public_b64 = sendgrid_keys
    body, timestamp = b'[{"event":"processed"}]\r\n', "1700000000"
    signature = base64.b64encode(
        private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()
    assert signatures.verify_sendgrid(public_b64, signature, timestamp, body)
    assert not signatures.verify_sendgrid(public_b64, signature, timestamp, body[:-1])
    assert not signatures.verify_sendgrid(public_b64, "not base64!", timestamp, body)
    assert not signatures.verify_sendgrid("bm90IGEga2V5", signature, timestamp, body)


def _hubspot_reference(secret, method, uri, body, timestamp):
    # the documented recipe, written out independently of the module under test
    source = f"{method}{uri}{body.decode()}{timestamp}"
    digest = hmac.new(secret.encode(), source.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_hubspot_v3_matches_the_documented_recipe():
    body = b'[{"eventId":1,"subscriptionType":"deal.propertyChange"}]'
    uri, ts = "https://ingest.touchline.example/webhooks/hubspot", "1700000000000"
    expected = _hubspot_reference("s3cret", "POST", uri, body, ts)
    assert signatures.hubspot_v3_signature("s3cret", "POST", uri, body, ts) == expected
    assert signatures.verify_hubspot_v3("s3cret", "POST", uri, body, ts, expected)
    assert not signatures.verify_hubspot_v3("s3cret", "POST", uri, body, "1700000000001", expected)
    assert not signatures.verify_hubspot_v3("other", "POST", uri, body, ts, expected)


def test_hubspot_v3_decodes_the_listed_escapes():
    raw = "https://h.example/webhooks/hubspot?next=%2Fa%3Ab&keep=%20"
    assert signatures.hubspot_uri(raw) == "https://h.example/webhooks/hubspot?next=/a:b&keep=%20"


def test_outreach_hex_hmac_of_the_body():
    body = b'{"data":{"type":"mailing","id":1},"meta":{"eventName":"mailing.opened"}}'
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert signatures.outreach_signature("k", body) == expected
    assert signatures.verify_outreach("k", body, expected.upper())
    assert not signatures.verify_outreach("k", body + b" ", expected)


def test_bearer_token():
    assert signatures.verify_bearer("tok", "Bearer tok")
    assert not signatures.verify_bearer("tok", "Bearer tok2")
    assert not signatures.verify_bearer("tok", "Basic tok")
