"""`touchline serve` as a user runs it: a real process, configured through TOUCHLINE_* env."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from click.testing import CliRunner
from kafka.admin import KafkaAdminClient

from touchline.schemas.vendors.envelope import Envelope
from touchline.stack.services import free_port, wait_for_port
from touchline.webhooks.cli import serve


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_without_any_secret_is_a_clear_error(monkeypatch):
    for key in list(os.environ):
        if key.startswith("TOUCHLINE_WEBHOOKS__"):
            monkeypatch.delenv(key)
    from touchline.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(serve, [])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no vendor secret is configured" in result.output
    assert "Traceback" not in result.output


def _start_serve(tmp_path, bootstrap: str, port: int, prefix: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLINE_")}
    env.update(
        TOUCHLINE_KAFKA__BOOTSTRAP=bootstrap,
        TOUCHLINE_KAFKA__PARTITIONS="2",
        TOUCHLINE_WEB__INGEST_PORT=str(port),
        TOUCHLINE_WEBHOOKS__OUTREACH_SECRET="cli-secret",
        TOUCHLINE_WEBHOOKS__RAW_TOPIC_PREFIX=prefix,
        TOUCHLINE_WEBHOOKS__BROKER_TIMEOUT_S="2",
    )
    log = tmp_path / f"serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "touchline", "serve"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    wait_for_port(port, proc, "touchline serve", 30, log)
    return proc


def _health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
        return json.loads(r.read())


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


@pytest.mark.integration
def test_touchline_serve_answers_503_while_the_broker_is_down(tmp_path):
    port = free_port()
    proc = _start_serve(tmp_path, f"127.0.0.1:{free_port()}", port, "rawdown.")  # no broker
    try:
        assert _health(port)["broker_connected"] is False
        body = b'{"data":{"type":"mailing"},"meta":{"eventName":"mailing.opened"}}'
        signature = hmac.new(b"cli-secret", body, hashlib.sha256).hexdigest()
        status, reply = _post(f"http://127.0.0.1:{port}/webhooks/outreach", body,
                              {"Outreach-Webhook-Signature": signature})
        assert status == 503 and "not stored" in reply["error"]
    finally:
        assert _stop(proc) == 0


@pytest.mark.integration
def test_touchline_serve_process_stores_a_signed_outreach_event(broker, body_of, tmp_path):
    port, prefix = free_port(), f"raw{uuid.uuid4().hex[:8]}."
    proc = _start_serve(tmp_path, broker.bootstrap, port, prefix)
    try:
        deadline = time.monotonic() + 30
        while not _health(port)["broker_connected"]:
            assert time.monotonic() < deadline, "touchline serve did not reach the broker"
            time.sleep(0.2)
        body = body_of("outreach_webhooks.jsonl").split("\n")[1].encode()
        signature = hmac.new(b"cli-secret", body, hashlib.sha256).hexdigest()
        url = f"http://127.0.0.1:{port}/webhooks/outreach"
        status, reply = _post(url, body, {"Content-Type": "application/json",
                                          "Outreach-Webhook-Signature": signature})
        assert status == 200 and reply["accepted"] is True
        status, _ = _post(url, body, {"Outreach-Webhook-Signature": "0" * 64})
        assert status == 403
        # the server created its raw topics; exactly the accepted request is on raw.outreach
        [(_, value)] = broker.read_from(prefix + "outreach", {})
        envelope = Envelope.model_validate_json(value)
        assert envelope.body_bytes() == body and envelope.request_id == reply["request_id"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            metrics = json.loads(r.read())["sources"]["outreach"]
        assert metrics["accepted"] == 1 and metrics["bad_signature"] == 1
        assert _stop(proc) == 0  # graceful: the producer is flushed and closed
    finally:
        if proc.poll() is None:
            _stop(proc)
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        finally:
            admin.close()
