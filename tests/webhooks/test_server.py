"""The real ingest server on a real noida-db broker: stored before 2xx, rejections counted.

Signatures are computed here with each vendor's documented recipe (not with the module under
test); SendGrid requests are signed with a key pair generated for the test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from touchline.schemas.vendors.envelope import Envelope
from touchline.settings import SOURCES
from touchline.webhooks.server import make_app

pytestmark = pytest.mark.integration

BASE = "https://ingest.touchline.example"  # settings.webhooks.public_base_url of the fixture
SECRETS = {
    "twilio": "twilio-test-auth-token",
    "hubspot": "hubspot-test-client-secret",
    "outreach": "outreach-test-secret",
    "salesforce": "salesforce-relay-test-token",
}


def twilio_headers(body: str, path: str = "/webhooks/twilio") -> dict[str, str]:
    params = parse_qsl(body, keep_blank_values=True)
    data = BASE + path + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(SECRETS["twilio"].encode(), data.encode(), hashlib.sha1).digest()
    return {"Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": base64.b64encode(digest).decode()}


def sendgrid_headers(private, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts}


def hubspot_headers(body: bytes, timestamp_ms: int | None = None) -> dict[str, str]:
    ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    source = b"POST" + (BASE + "/webhooks/hubspot").encode() + body + ts.encode()
    digest = hmac.new(SECRETS["hubspot"].encode(), source, hashlib.sha256).digest()
    return {"Content-Type": "application/json",
            "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": ts}


def outreach_headers(body: bytes) -> dict[str, str]:
    signature = hmac.new(SECRETS["outreach"].encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "Outreach-Webhook-Signature": signature}


def salesforce_headers(_body: bytes = b"") -> dict[str, str]:
    return {"Content-Type": "application/json",
            "Authorization": f"Bearer {SECRETS['salesforce']}"}


def signed_request(source: str, body: str, private) -> tuple[bytes, dict[str, str]]:
    raw = body.encode()
    if source == "twilio":
        return raw, twilio_headers(body)
    if source == "sendgrid":
        return raw, sendgrid_headers(private, raw)
    if source == "hubspot":
        return raw, hubspot_headers(raw)
    if source == "outreach":
        return raw, outreach_headers(raw)
    return raw, salesforce_headers()


FIXTURE_OF = {
    "twilio": "twilio_call_status_callbacks.form",
    "sendgrid": "sendgrid_event_webhook.json",
    "salesforce": "salesforce_cdc_events.json",
    "hubspot": "hubspot_webhooks.json",
    "outreach": "outreach_webhooks.jsonl",
}


async def counters(client: TestClient) -> dict[str, dict[str, int]]:
    response = await client.get("/metrics")
    assert response.status == 200
    return (await response.json())["sources"]


@pytest.mark.parametrize("source", SOURCES)
async def test_documented_payloads_are_stored_before_2xx(
    source, ingest, broker, body_of, sendgrid_keys, topic_of
):
    bodies = body_of(FIXTURE_OF[source])
    # one request per line for the line-per-request fixtures, else the whole document
    requests = bodies.split("\n") if source in ("twilio", "outreach") else [bodies]
    topic = topic_of(source)
    before = broker.end_offsets(topic)
    for body in requests:
        raw, headers = signed_request(source, body, sendgrid_keys[0])
        response = await ingest.post(f"/webhooks/{source}", data=raw, headers=headers)
        assert response.status == 200, await response.text()
        assert (await response.json())["accepted"] is True
    stored = broker.read_from(topic, before)
    assert len(stored) == len(requests)
    envelopes = [Envelope.model_validate_json(value) for _, value in stored]
    assert sorted(e.body_bytes() for e in envelopes) == sorted(b.encode() for b in requests)
    for envelope in envelopes:
        assert envelope.source == source
        assert envelope.url == f"{BASE}/webhooks/{source}"
        assert "authorization" not in envelope.headers  # secrets never reach the topic
    if source == "twilio":  # every callback of one call is keyed by its CallSid
        assert {key for key, _ in stored} == {b"CA9f8b0d3a5e2c4b1a9e7d6c5b4a3f2e1d"}
    assert (await counters(ingest))[source]["accepted"] == len(requests)


def _case(source, counter, status, build):
    return pytest.param(source, counter, status, build, id=f"{source}-{counter}")


def _over(limit: int) -> str:
    return orjson.dumps([{"event": "processed", "pad": "x" * limit}]).decode()


REJECTIONS = [
    _case("twilio", "bad_signature", 403, lambda b, k: (
        b"CallSid=CA1&CallStatus=completed",
        {**twilio_headers("CallSid=CA1&CallStatus=busy")})),
    _case("twilio", "missing_signature", 401, lambda b, k: (
        b"CallSid=CA1&CallStatus=completed",
        {"Content-Type": "application/x-www-form-urlencoded"})),
    _case("twilio", "malformed", 400, lambda b, k: (
        b"CallSid=CA1&garbage", twilio_headers("CallSid=CA1"))),
    _case("sendgrid", "bad_signature", 403, lambda b, k: (
        b"[]", {**sendgrid_headers(k, b"[]"),
                "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(b"x" * 70).decode()})),
    _case("sendgrid", "stale", 401, lambda b, k: (
        b"[]", sendgrid_headers(k, b"[]", timestamp=int(time.time()) - 3600))),
    _case("sendgrid", "malformed", 400, lambda b, k: (
        b'[{"event": "processed",', sendgrid_headers(k, b'[{"event": "processed",'))),
    _case("sendgrid", "too_large", 413, lambda b, k: (
        _over(64 * 1024).encode(), sendgrid_headers(k, _over(64 * 1024).encode()))),
    _case("hubspot", "stale", 401, lambda b, k: (
        b"[]", hubspot_headers(b"[]", timestamp_ms=int(time.time() * 1000) - 6 * 60 * 1000))),
    _case("hubspot", "bad_signature", 403, lambda b, k: (
        b'[{"eventId": 2}]', hubspot_headers(b'[{"eventId": 1}]'))),
    _case("hubspot", "malformed", 400, lambda b, k: (
        b"{broken", hubspot_headers(b"{broken"))),
    _case("outreach", "bad_signature", 403, lambda b, k: (
        b'{"data":{}}', {**outreach_headers(b'{"data":{}}'), "Outreach-Webhook-Signature": "00"})),
    _case("outreach", "malformed", 400, lambda b, k: (
        b'{"meta": {}}', outreach_headers(b'{"meta": {}}'))),
    _case("outreach", "malformed", 400, lambda b, k: (
        b"\xff\xfe", outreach_headers(b"\xff\xfe"))),
    _case("outreach", "bad_signature", 403, lambda b, k: (  # non-ASCII: a mismatch, not a 500
        b'{"data":{}}', {**outreach_headers(b'{"data":{}}'),
                         "Outreach-Webhook-Signature": "\u00e9" * 64})),
    _case("salesforce", "bad_signature", 403, lambda b, k: (
        b"[]", {"Authorization": "Bearer wrong-token"})),
    _case("salesforce", "malformed", 400, lambda b, k: (
        b'{"data": {"payload": {}}}', salesforce_headers())),
]


@pytest.mark.parametrize(("source", "counter", "status", "build"), REJECTIONS)
async def test_rejected_requests_never_reach_the_topic(
    source, counter, status, build, ingest, broker, sendgrid_keys, topic_of
):
    topic = topic_of(source)
    before = broker.end_offsets(topic)
    body, headers = build(None, sendgrid_keys[0])
    response = await ingest.post(f"/webhooks/{source}", data=body, headers=headers)
    assert response.status == status, await response.text()
    assert "error" in await response.json()
    assert broker.end_offsets(topic) == before  # nothing stored
    seen = (await counters(ingest))[source]
    assert seen[counter] == 1 and seen.get("accepted", 0) == 0


async def test_source_without_secret_is_refused(broker, settings_factory, topic_of):
    settings = settings_factory(broker.bootstrap)
    webhooks = settings.webhooks.model_copy(update={"outreach_secret": SecretStr("")})
    settings = settings.model_copy(update={"webhooks": webhooks})
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    client = TestClient(TestServer(make_app(settings, producer)))
    await client.start_server()
    try:
        before = broker.end_offsets(topic_of("outreach"))
        body = b'{"data":{"type":"mailing"},"meta":{"eventName":"mailing.opened"}}'
        response = await client.post("/webhooks/outreach", data=body,
                                     headers=outreach_headers(body))
        assert response.status == 403
        assert broker.end_offsets(topic_of("outreach")) == before
        assert (await counters(client))["outreach"]["not_configured"] == 1
    finally:
        await client.close()
        await producer.stop()


@pytest.mark.broker_semantics  # durable before 2xx: also on Apache Kafka (tests/kafka)
async def test_broker_stopped_means_503_never_2xx(own_broker_factory, settings_factory, body_of):
    broker = own_broker_factory()
    settings = settings_factory(broker.bootstrap)
    broker.create_topics([settings.webhooks.raw_topic("hubspot")])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all",
                                request_timeout_ms=2000)
    await producer.start()
    client = TestClient(TestServer(make_app(settings, producer)))
    await client.start_server()
    try:
        body = body_of("hubspot_webhooks.json").encode()
        response = await client.post("/webhooks/hubspot", data=body, headers=hubspot_headers(body))
        assert response.status == 200
        broker.stop()
        statuses = []
        for _ in range(3):
            response = await client.post("/webhooks/hubspot", data=body,
                                         headers=hubspot_headers(body))
            statuses.append(response.status)
            assert response.headers.get("Retry-After")
        assert statuses == [503, 503, 503]
        seen = (await counters(client))["hubspot"]
        assert seen["accepted"] == 1 and seen["broker_unavailable"] == 3
    finally:
        await client.close()
        await producer.stop()


async def test_healthz(ingest):
    response = await ingest.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"


async def test_a_signed_request_with_a_header_that_is_not_utf8_is_400(ingest, broker, topic_of):
    body = b'{"data":{"type":"mailing","id":1},"meta":{"eventName":"mailing.opened"}}'
    head = (f"POST /webhooks/outreach HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Outreach-Webhook-Signature: {outreach_headers(body)['Outreach-Webhook-Signature']}"
            f"\r\nConnection: close\r\n").encode()
    before = broker.end_offsets(topic_of("outreach"))
    reader, writer = await asyncio.open_connection(ingest.server.host, ingest.server.port)
    try:
        writer.write(head + b"User-Agent: \xff\xfe\r\n\r\n" + body)
        answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"400", answer
    assert b"not UTF-8" in rest
    assert broker.end_offsets(topic_of("outreach")) == before
    assert (await counters(ingest))["outreach"]["malformed"] == 1
