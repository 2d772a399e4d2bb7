"""Issue 3 end to end: vendor documented payloads -> `touchline serve`'s app -> broker ->
map_<source> agents -> validate -> record -> ClickHouse, on real processes (tests/harness.py).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient

from touchline.settings import SOURCES
from touchline.stack.services import free_port
from touchline.webhooks.server import make_app

pytestmark = pytest.mark.integration

IDENTITIES = Path(__file__).resolve().parents[2] / "examples" / "identities.yaml"
BASE = "https://ingest.touchline.example"
TWILIO_CALL = "twilio:CA9f8b0d3a5e2c4b1a9e7d6c5b4a3f2e1d"

EXPECTED = {  # event_id -> (type, rep_id, account_id, detail)
    TWILIO_CALL: ("call", "rep-ana", "acct-acme", "connected"),
    "sendgrid:sg_event_id_processed": ("email", "rep-ana", "acct-test", "sent"),
    "sendgrid:sg_event_id_delivered": ("email", "rep-ana", "acct-test", "delivered"),
    "sendgrid:sg_event_id_open": ("email", "rep-ana", "acct-test", "opened"),
    "sendgrid:sg_event_id_click": ("email", "rep-ana", "acct-test", "clicked"),
    "sendgrid:sg_event_id_bounce": ("email", "rep-ana", "acct-test", "bounced"),
    "sendgrid:sg_event_id_dropped": ("email", "rep-ana", "acct-test", "bounced"),
    "salesforce:0002343d-9d90-e395-ed20-cf416ba652ad:1:006RM000002bJ5bYAE":
        ("stage_change", "rep-ana", "acct-acme", "negotiation"),
    "salesforce:0002343d-9d90-e395-ed20-cf416ba652ad:1:006RM000002bJ5cYAE":
        ("stage_change", "rep-ana", "unknown:salesforce_opportunity:006RM000002bJ5cYAE",
         "negotiation"),
    "salesforce:00027c2c-7ff1-8cd0-3a3c-4b6a0d1e2f33:1:00TRM000003Xb2AYAS":
        ("call", "rep-ana", "acct-acme", "connected"),
    "salesforce:0003a1f0-1c2d-4e5f-8a9b-0c1d2e3f4a5b:1:00URM000001kLm2YAE":
        ("meeting", "rep-ana", "acct-acme", "scheduled"),
    "hubspot:3816279611": ("stage_change", "rep-ben", "acct-test", "negotiation"),
    "hubspot:3816279702": ("call", "rep-ben", "unknown:hubspot_call:70012345601", "connected"),
    "hubspot:3816279703": ("email", "rep-ben", "unknown:hubspot_email:70012345602", "sent"),
    "hubspot:3816279704": ("meeting", "rep-ben", "unknown:hubspot_meeting:70012345603",
                           "scheduled"),
    "outreach:5b1f4bd1-3a30-4e5c-9a17-1e6c1a0a6d02": ("email", "rep-cy", "acct-test", "sent"),
    "outreach:5b1f4bd1-3a30-4e5c-9a17-1e6c1a0a6d03": ("email", "rep-cy", "acct-test", "opened"),
    "outreach:5b1f4bd1-3a30-4e5c-9a17-1e6c1a0a6d04": ("email", "rep-cy", "acct-test", "replied"),
    "outreach:5b1f4bd1-3a30-4e5c-9a17-1e6c1a0a6d05":
        ("email", "rep-cy", "unknown:outreach_prospect:2", "bounced"),
    "outreach:5b1f4bd1-3a30-4e5c-9a17-1e6c1a0a6d06": ("call", "rep-cy", "acct-test", "connected"),
    "outreach:5b1f4bd1-3a30-4e5c-9a17-1e6c1a0a6d07":
        ("disposition", "rep-ana", "acct-test", "archive"),
}


def _signed(source, body: str, keys) -> dict[str, str]:
    # the same documented recipes as test_server.py, kept local (test modules do not import)
    import base64
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    raw = body.encode()
    if source == "twilio":
        data = BASE + "/webhooks/twilio" + "".join(
            k + v for k, v in sorted(parse_qsl(body, keep_blank_values=True)))
        sig = base64.b64encode(hmac.new(b"tw-e2e", data.encode(), hashlib.sha1).digest())
        return {"X-Twilio-Signature": sig.decode(),
                "Content-Type": "application/x-www-form-urlencoded"}
    if source == "sendgrid":
        ts = str(int(time.time()))
        sig = keys[0].sign(ts.encode() + raw, ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": ts}
    if source == "hubspot":
        ts = str(int(time.time() * 1000))
        msg = b"POST" + (BASE + "/webhooks/hubspot").encode() + raw + ts.encode()
        sig = base64.b64encode(hmac.new(b"hs-e2e", msg, hashlib.sha256).digest()).decode()
        return {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ts}
    if source == "outreach":
        return {"Outreach-Webhook-Signature": hmac.new(b"or-e2e", raw, hashlib.sha256).hexdigest()}
    return {"Authorization": "Bearer sf-e2e"}


@pytest.mark.broker_semantics
async def test_vendor_payloads_become_touches_and_stage_changes(
    pipeline_factory, kafka_bootstrap, monkeypatch, body_of, sendgrid_keys
):
    prefix = f"raw{uuid.uuid4().hex[:8]}."
    env = {
        "RAW_TOPIC_PREFIX": prefix, "IDENTITY_MAP_PATH": str(IDENTITIES), "TENANT": "whk",
        "PUBLIC_BASE_URL": BASE, "TWILIO_AUTH_TOKEN": "tw-e2e", "HUBSPOT_CLIENT_SECRET": "hs-e2e",
        "OUTREACH_SECRET": "or-e2e", "SALESFORCE_RELAY_TOKEN": "sf-e2e",
        "SENDGRID_PUBLIC_KEY": sendgrid_keys[1],
    }
    for key, value in env.items():
        monkeypatch.setenv(f"TOUCHLINE_WEBHOOKS__{key}", value)
    # `faust worker` turns its web server on whatever conf says (cli/worker.py sets
    # web_enabled from --with-web/--without-web): give ours a free port so that workers of
    # concurrent test runs do not collide on 6066
    monkeypatch.setenv("WEB_PORT", str(free_port()))
    # the fixtures are the vendors' dated examples (2016..2026): accept them all as on time
    p = pipeline_factory(partitions=2, allowed_lateness_s=20 * 365 * 24 * 3600)
    assert p.settings.webhooks.raw_topic_prefix == prefix  # the workers see the same
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    client = TestClient(TestServer(make_app(p.settings, producer)))
    await client.start_server()
    try:
        requests = [("twilio", line) for line in body_of(
            "twilio_call_status_callbacks.form").split("\n")]
        requests.append(requests[-1])  # Twilio retries the final callback: still one call
        requests += [("sendgrid", body_of("sendgrid_event_webhook.json"))] * 2  # redelivery
        requests += [("salesforce", body_of("salesforce_cdc_events.json")),
                     ("hubspot", body_of("hubspot_webhooks.json"))]
        requests += [("outreach", line) for line in body_of("outreach_webhooks.jsonl").split("\n")]
        for source, body in requests:
            response = await client.post(f"/webhooks/{source}", data=body.encode(),
                                         headers=_signed(source, body, sendgrid_keys))
            assert response.status == 200, (source, await response.text())
    finally:
        await client.close()
        await producer.stop()

    p.wait_until(
        lambda: p.scalar("SELECT count() FROM {db}.activities WHERE tenant = 'whk'")
        >= len(EXPECTED)
        and p.scalar("SELECT count() FROM {db}.dlq_events WHERE reason = 'unmappable'") >= 1,
        timeout=180, what="the vendor events in ClickHouse",
    )
    p.wait_settled()
    rows = p.rows(
        "SELECT event_id, type, rep_id, account_id, outcome, email_action, meeting_status, "
        "to_stage, disposition, source, is_touch FROM {db}.activities WHERE tenant = 'whk'")
    got = {r[0]: (r[1], r[2], r[3], next(x for x in r[4:9] if x)) for r in rows}
    assert got == EXPECTED  # retried / redelivered vendor events are stored once
    assert len(rows) == len(EXPECTED)
    touches = {r[0] for r in rows if r[10]}
    assert TWILIO_CALL in touches and "sendgrid:sg_event_id_processed" in touches
    assert "sendgrid:sg_event_id_open" not in touches
    [(reason, error, origin)] = p.rows(
        "SELECT reason, error, origin FROM {db}.dlq_events WHERE reason = 'unmappable'")
    assert error.startswith("gap_update:") and "006RM000002bJ5dYAE" in error
    assert origin.startswith("salesforce:")
    # the mapping agents send each event to its account's partition: recorded where validated
    assert sum(p.end_offsets(p.settings.kafka.activities_topic).values()) == 0
    visits = p.rows("SELECT stage, vendor_stage FROM {db}.stage_visits FINAL "
                    "WHERE opportunity_id = 'opp-acme-renewal'")
    assert visits == [("negotiation", "Negotiation/Review")]  # the plan's stage, the CRM's name

    # skipped vendor events are counted, not dropped silently: per raw topic in pipeline_metrics
    counts = {r[0]: r[1:] for r in p.rows(
        "SELECT topic, sum(messages), sum(events_in), sum(accepted), sum(rejected) "
        "FROM {db}.pipeline_metrics WHERE startsWith(topic, {p:String}) GROUP BY topic",
        p=prefix)}
    # twilio: 4 callbacks stored (the retried final one is answered `duplicate` at the edge:
    # the same signed body within the replay window) -> 1 emitted, 3 skipped
    assert counts[prefix + "twilio"] == (4, 4, 1, 0)
    # sendgrid: 2 deliveries x 11 events -> 2 x 6 emitted, 2 x 5 skipped
    assert counts[prefix + "sendgrid"] == (2, 22, 12, 0)
    # salesforce: 1 request: Account CREATE skipped + 4 records emitted + 1 gap (dead letter)
    assert counts[prefix + "salesforce"] == (1, 6, 4, 1)

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_topics([prefix + s for s in SOURCES])
    finally:
        admin.close()
