"""`touchline serve`: one POST endpoint per vendor; a request is answered 2xx only once stored.

POST /webhooks/<source>  (twilio, sendgrid, salesforce, hubspot, outreach)
  413 body over settings.web.max_body_bytes     401 signature header missing / stale timestamp
  403 bad signature, or the source has no secret configured
  400 body is not what the vendor sends (broken form / JSON, not UTF-8)
  503 the broker did not acknowledge the write in time (vendors that retry will retry)
  200 the request is on `raw.<source>` (acks=all), as a JSON Envelope
GET /metrics: per-source counters (JSON); GET /healthz: liveness.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiohttp import web

from touchline.schemas.vendors import MappingError, hubspot, outreach, salesforce, sendgrid, twilio
from touchline.schemas.vendors.envelope import KEPT_HEADERS
from touchline.settings import SOURCES, Settings, WebhookSettings
from touchline.webhooks import signatures
from touchline.webhooks.batcher import BatchProducer, ProduceBatcher
from touchline.webhooks.edge_limits import ClientSlots, ReplayCache, replay_key

log = logging.getLogger(__name__)


COUNTERS: web.AppKey[dict[str, Counter[str]]] = web.AppKey("counters", dict)
#: the base URL signatures are checked against when PUBLIC_BASE_URL is unset
SIGNED_BASE: web.AppKey[str] = web.AppKey("signed_base", str)
REPLAYS: web.AppKey[ReplayCache] = web.AppKey("twilio_replays", ReplayCache)


class Rejected(Exception):
    """A request refused before it reaches the broker."""

    def __init__(self, status: int, counter: str, message: str) -> None:
        super().__init__(message)
        self.status, self.counter, self.message = status, counter, message


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(400, "malformed", f"body is not UTF-8: {exc}") from exc


def _header(request: web.Request, name: str) -> str:
    value = request.headers.get(name, "").strip()
    if not value:
        raise Rejected(401, "missing_signature", f"{name} header missing")
    return value


def signed_base(settings: Settings) -> str:
    """The base URL Twilio and HubSpot signatures are checked against.

    PUBLIC_BASE_URL, or else the server's own configured address; never the Host header a
    request brings (a request signed for another host must not pass).
    """
    base = settings.webhooks.public_base_url.rstrip("/")
    return base or f"http://{settings.web.host}:{settings.web.ingest_port}"


def _public_url(request: web.Request, wh: WebhookSettings) -> str:
    """The URL the vendor called (what Twilio and HubSpot sign)."""
    return request.app[SIGNED_BASE] + request.path_qs


def _check_age(timestamp: str, max_age_s: int, unit_ms: bool) -> None:
    try:
        sent = int(timestamp) / (1000 if unit_ms else 1)
    except ValueError as exc:
        raise Rejected(401, "stale", f"timestamp {timestamp!r} is not a number") from exc
    age = time.time() - sent
    if age > max_age_s or age < -max_age_s:
        raise Rejected(401, "stale", f"timestamp is {age:.0f} s old (limit {max_age_s} s)")


T = TypeVar("T")


def _parsed(parse: Callable[[str], T], body: bytes) -> T:
    """The vendor parser's result, or 400 with its reason: a broken body never reaches Kafka."""
    try:
        return parse(_text(body))
    except MappingError as exc:
        raise Rejected(400, "malformed", exc.reason) from exc


def _verify_twilio(request: web.Request, body: bytes, wh: WebhookSettings) -> str | None:
    params = _parsed(twilio.parse_form, body)
    signature = _header(request, "X-Twilio-Signature")
    token = wh.twilio_auth_token.get_secret_value()
    if not signatures.verify_twilio(token, _public_url(request, wh), params, signature):
        raise Rejected(403, "bad_signature", "X-Twilio-Signature does not match")
    call_sid = dict(params).get("CallSid", "")
    if not call_sid:
        raise Rejected(400, "malformed", "CallSid missing")
    return call_sid  # key: all callbacks of one call on one partition, in order


def _verify_sendgrid(request: web.Request, body: bytes, wh: WebhookSettings) -> None:
    signature = _header(request, "X-Twilio-Email-Event-Webhook-Signature")
    timestamp = _header(request, "X-Twilio-Email-Event-Webhook-Timestamp")
    if wh.sendgrid_max_age_s:
        _check_age(timestamp, wh.sendgrid_max_age_s, unit_ms=False)
    key = wh.sendgrid_public_key.get_secret_value()
    if not signatures.verify_sendgrid(key, signature, timestamp, body):
        raise Rejected(403, "bad_signature", "SendGrid event webhook signature does not verify")
    _parsed(sendgrid.parse_events, body)


def _verify_hubspot(request: web.Request, body: bytes, wh: WebhookSettings) -> None:
    signature = _header(request, "X-HubSpot-Signature-v3")
    timestamp = _header(request, "X-HubSpot-Request-Timestamp")
    _check_age(timestamp, wh.hubspot_max_age_s, unit_ms=True)
    secret = wh.hubspot_client_secret.get_secret_value()
    url = _public_url(request, wh)
    if not signatures.verify_hubspot_v3(secret, request.method, url, body, timestamp, signature):
        raise Rejected(403, "bad_signature", "X-HubSpot-Signature-v3 does not match")
    _parsed(hubspot.parse_events, body)


def _verify_outreach(request: web.Request, body: bytes, wh: WebhookSettings) -> None:
    signature = _header(request, "Outreach-Webhook-Signature")
    if not signatures.verify_outreach(wh.outreach_secret.get_secret_value(), body, signature):
        raise Rejected(403, "bad_signature", "Outreach-Webhook-Signature does not match")
    _parsed(outreach.parse_body, body)


def _verify_salesforce(request: web.Request, body: bytes, wh: WebhookSettings) -> None:
    authorization = _header(request, "Authorization")
    if not signatures.verify_bearer(wh.salesforce_relay_token.get_secret_value(), authorization):
        raise Rejected(403, "bad_signature", "relay bearer token does not match")
    _parsed(salesforce.parse_messages, body)


Verifier = Callable[[web.Request, bytes, WebhookSettings], "str | None"]
VERIFIERS: dict[str, Verifier] = {
    "twilio": _verify_twilio,
    "sendgrid": _verify_sendgrid,
    "salesforce": _verify_salesforce,
    "hubspot": _verify_hubspot,
    "outreach": _verify_outreach,
}
SECRETS = {
    "twilio": "twilio_auth_token",
    "sendgrid": "sendgrid_public_key",
    "salesforce": "salesforce_relay_token",
    "hubspot": "hubspot_client_secret",
    "outreach": "outreach_secret",
}


async def _read_body(request: web.Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise Rejected(413, "too_large", f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_body_in_time(request: web.Request, limit: int, timeout_s: float) -> bytes:
    """The body, unless it takes longer than `timeout_s` to arrive (408).

    A body that arrived whole with its headers (the usual small webhook) is taken as it is,
    without a timer.
    """
    if request.content_length is not None and request.content_length > limit:
        raise Rejected(413, "too_large", f"body of {request.content_length} bytes > {limit}")
    content = request.content
    if content.is_eof():
        body = content.read_nowait()
        if len(body) > limit:
            raise Rejected(413, "too_large", f"body over {limit} bytes")
        return body
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_body(request, limit)
    except TimeoutError as exc:
        raise Rejected(408, "slow_body", f"body not received within {timeout_s:g} s") from exc


def new_request_id() -> str:
    """A random UUID (version 4) as 32 hex digits, as uuid.uuid4().hex gives it."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


def envelope_json(source: str, body: bytes, url: str, method: str, content_type: str,
                  headers: dict[str, str], request_id: str) -> bytes:
    """The Envelope of an accepted request as JSON, without a model round trip.

    Accepted bodies are UTF-8 text (the vendor parsers refuse anything else, so the envelope's
    base64 form is never needed here); tests/webhooks check it reads back as the Envelope
    `Envelope.of` makes.
    """
    text = _text(body)
    try:
        return orjson.dumps({
            "source": source, "received_at": datetime.now(UTC), "url": url, "method": method,
            "content_type": content_type, "headers": headers, "body": text,
            "body_encoding": "utf-8", "request_id": request_id,
        }, option=orjson.OPT_UTC_Z)
    except TypeError as exc:  # a header aiohttp kept as undecodable bytes
        raise Rejected(400, "malformed", "a stored header is not UTF-8 text") from exc


def _json(doc: dict[str, Any], status: int = 200,
          headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer (orjson; what web.json_response gives, for less)."""
    return web.Response(body=orjson.dumps(doc), status=status, headers=headers,
                        content_type="application/json")


def make_app(settings: Settings, producer: BatchProducer) -> web.Application:
    """The ingest HTTP app; `producer` must be started (and stopped) by the caller.

    Accepted requests are written through one `ProduceBatcher`: each is answered 200 once the
    broker acknowledged the batch holding its envelope.
    """
    wh: WebhookSettings = settings.webhooks
    limit = settings.web.max_body_bytes
    counters: dict[str, Counter[str]] = {s: Counter() for s in SOURCES}
    started = datetime.now(UTC)
    slots = ClientSlots(wh.max_requests_per_client)
    replays = ReplayCache(wh.twilio_replay_window_s, wh.twilio_replay_cache_size)

    configured = {s: bool(getattr(wh, SECRETS[s]).get_secret_value()) for s in SOURCES}
    topics = {s: wh.raw_topic(s) for s in SOURCES}
    base = signed_base(settings)
    batcher = ProduceBatcher(producer, wh.broker_timeout_s)

    def endpoint(source: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            client = request.remote or ""
            if not slots.take(client):
                counters[source]["too_many_requests"] += 1
                return _json({"error": f"more than {slots.limit} requests in progress from "
                                       f"{client}"}, 429, {"Retry-After": "5"})
            try:
                return await accept(source, request)
            finally:
                slots.give_back(client)

        return handle

    async def accept(source: str, request: web.Request) -> web.Response:
        count = counters[source]
        count["requests"] += 1
        request_id = new_request_id()
        replayed = ""
        try:
            if not configured[source]:
                raise Rejected(403, "not_configured", f"{source} secret is not configured")
            body = await _read_body_in_time(request, limit, wh.body_timeout_s)
            key = VERIFIERS[source](request, body, wh)
            headers = request.headers
            url = base + request.path_qs
            envelope = envelope_json(
                source, body, url, request.method, headers.get("Content-Type", ""),
                {h: headers[h] for h in KEPT_HEADERS[source] if h in headers}, request_id)
        except Rejected as exc:
            count[exc.counter] += 1
            log.info("%s %s rejected %s: %s", source, request_id, exc.status, exc.message)
            response = _json({"error": exc.message}, exc.status)
            if exc.status == 408:
                response.force_close()
            return response
        if source == "twilio":  # signed, maybe undated: an identical one was already stored
            replayed = replay_key(headers["X-Twilio-Signature"], url)
            if replays.seen(replayed):
                count["replayed"] += 1
                return _json({"accepted": True, "duplicate": True})
        try:
            await batcher.store(topics[source], envelope, (key or request_id).encode(),
                                ordered=key is not None)
        except Exception as exc:  # any failure to store means "not stored"
            count["broker_unavailable"] += 1
            log.warning("%s %s not stored: %r", source, request_id, exc)
            return _json({"error": "not stored: broker unavailable, retry later"}, 503,
                         {"Retry-After": "5"})
        count["accepted"] += 1
        if replayed:
            replays.add(replayed)
        return _json({"accepted": True, "request_id": request_id})

    async def metrics(_request: web.Request) -> web.Response:
        sources = {s: dict(c) for s, c in counters.items()}
        return _json({"started_at": started.isoformat(), "sources": sources})

    async def healthz(_request: web.Request) -> web.Response:
        connected = getattr(producer, "producer", producer) is not None
        return _json({"status": "ok", "broker_connected": connected})

    app = web.Application(client_max_size=limit + 1)
    app[COUNTERS] = counters
    app[SIGNED_BASE] = base
    app[REPLAYS] = replays

    async def close_batcher(_app: web.Application) -> None:
        await batcher.close()

    app.on_cleanup.append(close_batcher)
    for source in SOURCES:
        app.router.add_post(f"/webhooks/{source}", endpoint(source))
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    return app


async def ensure_raw_topics(settings: Settings) -> None:
    """Create the missing topics, raw.<vendor> among them, with the one admin client."""
    from touchline.stack.topics_admin import ensure_topics

    await asyncio.to_thread(ensure_topics, settings)


class BrokerLink:
    """The producer once it is connected; until then every send fails (-> 503).

    So the HTTP site listens while the broker is still down instead of refusing connections.
    """

    def __init__(self) -> None:
        self.producer: Any = None

    def _connected(self) -> Any:
        if self.producer is None:
            raise ConnectionError("not connected to the broker yet")
        return self.producer

    def create_batch(self) -> Any:
        """An empty batch of the connected producer; raise while there is none."""
        return self._connected().create_batch()

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any:
        """Queue a batch on the connected producer; raise while there is none."""
        return await self._connected().send_batch(batch, topic, partition=partition)

    async def partitions_for(self, topic: str) -> set[int]:
        """The topic's partitions; raise while not connected."""
        return await self._connected().partitions_for(topic)

    async def connect(self, settings: Settings) -> None:
        """Connect (retrying while the broker is down), then create the raw topics."""
        producer = await start_producer(settings)
        try:
            await ensure_raw_topics(settings)
        except Exception as exc:  # the broker may auto-create topics; sends will tell
            log.warning("could not create the raw topics: %r", exc)
        self.producer = producer
        log.warning("webhook ingest connected to the broker %s", settings.kafka.bootstrap)

    async def close(self) -> None:
        """Flush and close the producer, if it ever connected."""
        if self.producer is not None:
            await self.producer.stop()


async def start_producer(settings: Settings, attempts: int = 0) -> Any:
    """A started AIOKafkaProducer (acks=all); retries every 2 s while the broker is down."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    tried = 0
    while True:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap,
            acks="all",
            compression_type=settings.kafka.compression_type,
            request_timeout_ms=int(settings.webhooks.broker_timeout_s * 1000),
            max_request_size=2 * settings.web.max_body_bytes + 64 * 1024,
            max_batch_size=256 * 1024,  # one batch holds the envelopes of many requests
            linger_ms=0,
        )
        try:
            await producer.start()
            return producer
        except (KafkaError, OSError) as exc:
            await producer.stop()
            tried += 1
            if attempts and tried >= attempts:
                raise
            log.warning("broker %s not reachable (%r), retrying", settings.kafka.bootstrap, exc)
            await asyncio.sleep(2)


async def run_ingest_server(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or SIGTERM / SIGINT); 503 until the broker is reachable."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    link = BrokerLink()
    connecting = asyncio.create_task(link.connect(settings))
    runner = web.AppRunner(make_app(settings, link), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.web.host, settings.web.ingest_port)
        await site.start()
        log.warning(
            "webhook ingest listening on http://%s:%s/webhooks/<source>",
            settings.web.host,
            settings.web.ingest_port,
        )
        if not settings.webhooks.public_base_url:
            log.warning(
                "PUBLIC_BASE_URL is not set: Twilio and HubSpot signatures are checked against "
                "%s/webhooks/<source>, never against a request's Host header; set "
                "TOUCHLINE_WEBHOOKS__PUBLIC_BASE_URL to the URL vendors call",
                signed_base(settings))
        await stop.wait()
    finally:
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
        await runner.cleanup()
        await link.close()
