"""Concurrent requests share broker batches; each is answered only once its own is stored.

Real server, real broker (the test run's, or one of the test's own that it freezes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import signal
import time
from collections import defaultdict
from urllib.parse import parse_qsl

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from kafka import KafkaConsumer, TopicPartition

from touchline.schemas.vendors.envelope import Envelope
from touchline.stack.services import listens
from touchline.webhooks.server import make_app

pytestmark = pytest.mark.integration

BASE = "https://ingest.touchline.example"  # the fixture's public_base_url


def _outreach(i: int) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({"data": {"type": "mailing", "id": 70_000 + i},
                         "meta": {"eventName": "mailing.delivered", "jobId": f"batch-{i}"}})
    signature = hmac.new(b"outreach-test-secret", body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "Outreach-Webhook-Signature": signature}


def _hubspot(i: int) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps([{"eventId": 80_000 + i, "subscriptionType": "object.creation",
                          "objectId": i, "objectTypeId": "0-48"}])
    ts = str(int(time.time() * 1000))
    message = b"POST" + f"{BASE}/webhooks/hubspot".encode() + body + ts.encode()
    digest = hmac.new(b"hubspot-test-client-secret", message, hashlib.sha256).digest()
    return body, {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
                  "X-HubSpot-Signature-v3": base64.b64encode(digest).decode()}


def _twilio(call: str, step: int) -> tuple[bytes, dict[str, str]]:
    body = f"CallSid={call}&CallStatus=in-progress&SequenceNumber={step}"
    data = f"{BASE}/webhooks/twilio" + "".join(
        k + v for k, v in sorted(parse_qsl(body, keep_blank_values=True)))
    digest = hmac.new(b"twilio-test-auth-token", data.encode(), hashlib.sha1).digest()
    return body.encode(), {"Content-Type": "application/x-www-form-urlencoded",
                           "X-Twilio-Signature": base64.b64encode(digest).decode()}


async def test_concurrent_requests_are_each_stored_once_before_their_200(
    ingest, broker, topic_of
):
    before = {s: broker.end_offsets(topic_of(s)) for s in ("outreach", "hubspot")}
    sent = [("outreach", *_outreach(i)) if i % 2 else ("hubspot", *_hubspot(i))
            for i in range(60)]  # under the 64 a client may have in progress

    async def post(source: str, body: bytes, headers: dict[str, str]) -> tuple[str, bytes]:
        response = await ingest.post(f"/webhooks/{source}", data=body, headers=headers)
        assert response.status == 200, await response.text()
        return (await response.json())["request_id"], body

    answered = dict(await asyncio.gather(*(post(*r) for r in sent)))
    stored: dict[str, bytes] = {}
    for source in ("outreach", "hubspot"):
        for _, value in broker.read_from(topic_of(source), before[source]):
            envelope = Envelope.model_validate_json(value)
            assert envelope.source == source and envelope.request_id not in stored
            stored[envelope.request_id] = envelope.body_bytes()
    assert stored == answered  # every 200 is on the broker, with its own body, exactly once


async def test_callbacks_of_one_call_stay_on_its_partition_in_order(ingest, broker, topic_of):
    topic = topic_of("twilio")
    before = broker.end_offsets(topic)
    calls = [f"CA{os.urandom(8).hex()}" for _ in range(6)]

    async def call(sid: str) -> None:  # a call's callbacks come one after the other
        for step in range(8):
            body, headers = _twilio(sid, step)
            response = await ingest.post("/webhooks/twilio", data=body, headers=headers)
            assert response.status == 200, await response.text()

    await asyncio.gather(*(call(sid) for sid in calls))  # the calls at once
    ends = broker.end_offsets(topic)
    partitions = sorted(ends)
    seen: dict[bytes, list[tuple[int, int]]] = defaultdict(list)
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    try:
        for partition in partitions:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, before.get(partition, 0))
            while consumer.position(tp) < ends[partition]:
                for record in consumer.poll(timeout_ms=500).get(tp, []):
                    body = Envelope.model_validate_json(record.value).body
                    step = int(dict(parse_qsl(body))["SequenceNumber"])
                    seen[record.key].append((partition, step))
    finally:
        consumer.close()
    assert set(seen) == {sid.encode() for sid in calls}
    for sid in calls:
        home = DefaultPartitioner()(sid.encode(), partitions, partitions)
        assert seen[sid.encode()] == [(home, step) for step in range(8)]


async def test_a_broker_that_stops_answering_gets_503_within_the_timeout(
    own_broker_factory, settings_factory, body_of
):
    broker = own_broker_factory()
    settings = settings_factory(broker.bootstrap)  # broker_timeout_s 3
    broker.create_topics([settings.webhooks.raw_topic("outreach")])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all",
                                request_timeout_ms=30_000)  # the edge's own timeout acts first
    await producer.start()
    client = TestClient(TestServer(make_app(settings, producer)))
    await client.start_server()
    pid = broker.service.proc.pid
    try:
        body, headers = _outreach(1)
        assert (await client.post("/webhooks/outreach", data=body, headers=headers)).status == 200
        assert broker.service.proc.poll() is None and listens(pid, broker.service.port)
        os.kill(pid, signal.SIGSTOP)  # alive, connected, silent
        async with asyncio.timeout(20):  # answered by the edge's 3 s, not the producer's 30 s
            answers = await asyncio.gather(*(
                client.post("/webhooks/outreach", data=b, headers=h)
                for b, h in (_outreach(i) for i in range(2, 12))))
        assert [a.status for a in answers] == [503] * 10
        assert all(a.headers.get("Retry-After") for a in answers)
        seen = (await (await client.get("/metrics")).json())["sources"]["outreach"]
        assert seen["accepted"] == 1 and seen["broker_unavailable"] == 10
    finally:
        os.kill(pid, signal.SIGCONT)
        await client.close()
        await producer.stop()
