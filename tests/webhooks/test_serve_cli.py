"""`touchline serve` as a user runs it: a real process, configured through TOUCHLINE_* env."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from click.testing import CliRunner
from kafka.admin import KafkaAdminClient

from touchline.services import free_port
from touchline.webhooks.cli import serve
from touchline.webhooks.envelope import Envelope

pytestmark = pytest.mark.integration


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


def test_touchline_serve_process_stores_a_signed_outreach_event(broker, body_of, tmp_path):
    port, prefix = free_port(), f"raw{uuid.uuid4().hex[:8]}."
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLINE_")}
    env.update(
        TOUCHLINE_KAFKA__BOOTSTRAP=broker.bootstrap,
        TOUCHLINE_KAFKA__PARTITIONS="2",
        TOUCHLINE_WEB__INGEST_PORT=str(port),
        TOUCHLINE_WEBHOOKS__OUTREACH_SECRET="cli-secret",
        TOUCHLINE_WEBHOOKS__RAW_TOPIC_PREFIX=prefix,
    )
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "touchline", "serve"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "touchline serve did not listen"
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
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0  # graceful: the producer is flushed and closed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        finally:
            admin.close()
