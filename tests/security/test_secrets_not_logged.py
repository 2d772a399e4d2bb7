"""Secrets (webhook secrets, ClickHouse and users' passwords) come from env/settings only and
never appear in log or CLI output: `touchline serve` (with debug logging and requests that
fail signature checks), pipeline workers and the store, `sink init --users`, `query` on an
unreachable server; and `Settings` repr / JSON dump hide them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from touchline.settings import Settings
from touchline.stack.services import free_port, wait_for_port

SECRETS = {
    "TOUCHLINE_WEBHOOKS__TWILIO_AUTH_TOKEN": "s3cr3t-twilio-9f1c",
    "TOUCHLINE_WEBHOOKS__HUBSPOT_CLIENT_SECRET": "s3cr3t-hubspot-77aa",
    "TOUCHLINE_WEBHOOKS__OUTREACH_SECRET": "s3cr3t-outreach-0b0b",
    "TOUCHLINE_WEBHOOKS__SALESFORCE_RELAY_TOKEN": "s3cr3t-salesforce-c4fe",
    "TOUCHLINE_SECURITY__WRITER_PASSWORD": "s3cr3t-writer-5e5e",
    "TOUCHLINE_SECURITY__READER_PASSWORD": "s3cr3t-reader-6f6f",
    "TOUCHLINE_SECURITY__TENANT_READERS": json.dumps({"acme": "s3cr3t-tenant-acme-7a7a"}),
    "TOUCHLINE_CLICKHOUSE__PASSWORD": "s3cr3t-clickhouse-8b8b",
}
SECRET_VALUES = ["s3cr3t-twilio-9f1c", "s3cr3t-hubspot-77aa", "s3cr3t-outreach-0b0b",
                 "s3cr3t-salesforce-c4fe", "s3cr3t-writer-5e5e", "s3cr3t-reader-6f6f",
                 "s3cr3t-tenant-acme-7a7a", "s3cr3t-clickhouse-8b8b"]


def assert_no_secret(text: str, where: str) -> None:
    for value in SECRET_VALUES:
        assert value not in text, f"{where} shows a secret ({value[:10]}...)"
    assert "s3cr3t" not in text, where


def test_settings_repr_and_dump_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.webhooks.twilio_auth_token.get_secret_value() == "s3cr3t-twilio-9f1c"
    assert settings.security.tenant_passwords()["acme"].get_secret_value() \
        == "s3cr3t-tenant-acme-7a7a"
    for text in (repr(settings), str(settings), settings.model_dump_json(),
                 repr(settings.model_dump()), repr(settings.security),
                 repr(settings.clickhouse)):
        assert_no_secret(text, "Settings repr/dump")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLINE_")}
    return {**env, **SECRETS, "TOUCHLINE_DATA_DIR": str(tmp_path / "data"),
            "TOUCHLINE_LOG_LEVEL": "debug", **extra}


@pytest.mark.integration
def test_cli_output_never_shows_secrets(tmp_path: Path) -> None:
    port = free_port()
    runs = [
        (["sink", "init", "--users"], {}),  # chdb: says server-only
        (["query", "SELECT 1"], {"TOUCHLINE_CLICKHOUSE__DSN": f"http://127.0.0.1:{port}"}),
        (["sink", "init", "--users"], {"TOUCHLINE_CLICKHOUSE__DSN": f"http://127.0.0.1:{port}"}),
        (["ingest", "missing.jsonl"], {}),
    ]
    for args, extra in runs:
        proc = subprocess.run([sys.executable, "-m", "touchline", *args], capture_output=True,
                              text=True, timeout=180, env=_env(tmp_path, **extra), cwd=tmp_path)
        assert "Traceback" not in proc.stdout + proc.stderr
        assert_no_secret(proc.stdout + proc.stderr, f"touchline {' '.join(args)}")


@pytest.mark.integration
def test_serve_logs_never_show_secrets(tmp_path: Path, kafka_bootstrap: str) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    env = _env(tmp_path, TOUCHLINE_KAFKA__BOOTSTRAP=kafka_bootstrap,
               TOUCHLINE_WEB__INGEST_PORT=str(port),
               TOUCHLINE_WEBHOOKS__RAW_TOPIC_PREFIX=f"secrettest{port}.")
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "touchline", "serve"], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        wait_for_port(port, proc, "touchline serve", 60, log)
        for source, headers in (
            ("twilio", {"X-Twilio-Signature": "bad",
                        "Content-Type": "application/x-www-form-urlencoded"}),
            ("hubspot", {"X-HubSpot-Signature-v3": "bad", "X-HubSpot-Request-Timestamp": "1"}),
            ("outreach", {"Outreach-Webhook-Signature": "bad"}),
            ("salesforce", {"Authorization": "Bearer wrong-token"}),
        ):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/webhooks/{source}", data=b"CallSid=CA1&x=1",
                headers=headers, method="POST")
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(request, timeout=10)
            assert err.value.code in (401, 403), source
            assert_no_secret(err.value.read().decode(errors="replace"), f"{source} response")
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    text = log.read_text(errors="replace")
    assert "touchline serve:" in text  # the log was captured
    assert_no_secret(text, "touchline serve log")


@pytest.mark.integration
def test_worker_and_store_logs_never_show_secrets(
        pipeline_factory: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        if not name.startswith("TOUCHLINE_CLICKHOUSE"):  # the harness sets its own ClickHouse
            monkeypatch.setenv(name, value)
    p = pipeline_factory(partitions=1)
    assert p.settings.webhooks.twilio_auth_token.get_secret_value() == "s3cr3t-twilio-9f1c"
    event = {"event_id": "sec-1", "tenant": "acme", "type": "email", "source": "t",
             "occurred_at": "2026-01-01T00:00:00Z", "rep_id": "r", "team_id": "t",
             "account_id": "a", "action": "sent"}
    p.produce([orjson.dumps({**event, "occurred_at": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime())}), b"{not json"])
    p.wait_rows("activities", 1)
    p.wait_rows("dlq_events", 1)
    logs = {s.name: s.log.read_text(errors="replace") for s in p.stack.services}
    assert logs
    for name, text in logs.items():
        assert_no_secret(text, f"{name} log")
