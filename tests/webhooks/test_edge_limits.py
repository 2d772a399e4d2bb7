"""Invariant: the public edge bounds what one client can hold and what a replay can count.

A real `touchline serve` process on a real broker, spoken to over raw sockets and HTTP:
- a body that stalls is refused with 408 and its connection closed (stalled connections used
  to stay open for good);
- one client address gets at most `max_requests_per_client` requests in progress; the next
  gets 429 at once, and the slots come back when the stalled ones are refused;
- with PUBLIC_BASE_URL unset, a Twilio callback signed for another host (a staging endpoint's
  URL, sent with that Host header) is refused: signatures are checked against the server's own
  configured address, and the server says so when it starts;
- a signed Twilio callback sent twice is stored once (the second answer says `duplicate`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import clean_env
from touchline.stack.services import free_port, wait_for_port

pytestmark = pytest.mark.integration

TOKEN = "edge-twilio-token"
LIMIT = 3
BODY_TIMEOUT_S = 2


def _sign(url: str, form: dict[str, str]) -> str:
    data = url + "".join(k + v for k, v in sorted(form.items()))
    return base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def serve(broker, tmp_path: Path) -> Iterator[tuple[int, str, Path]]:
    """`touchline serve` without PUBLIC_BASE_URL: (port, raw topic prefix, log file)."""
    port, prefix = free_port(), f"rawedge{uuid.uuid4().hex[:8]}."
    env = clean_env()
    env.update(TOUCHLINE_KAFKA__BOOTSTRAP=broker.bootstrap, TOUCHLINE_KAFKA__PARTITIONS="2",
               TOUCHLINE_WEB__INGEST_PORT=str(port), TOUCHLINE_WEBHOOKS__TWILIO_AUTH_TOKEN=TOKEN,
               TOUCHLINE_WEBHOOKS__RAW_TOPIC_PREFIX=prefix,
               TOUCHLINE_WEBHOOKS__BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
               TOUCHLINE_WEBHOOKS__MAX_REQUESTS_PER_CLIENT=str(LIMIT))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "touchline", "serve"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_for_port(port, proc, "touchline serve", 30, log)
        deadline = time.monotonic() + 30
        while "connected to the broker" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        yield port, prefix, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/twilio", data=body,
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _stalled(port: int) -> socket.socket:
    """A connection that sends headers and 10 of the 1,000 body bytes it announced."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(b"POST /webhooks/twilio HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\n"
                 b"X-Twilio-Signature: x\r\nContent-Length: 1000\r\n\r\nCallSid=CA")
    return sock


def _answer(sock: socket.socket) -> tuple[bytes, bool]:
    """The status line the server sends, and whether it then closed the connection."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data.split(b"\r\n", 1)[0], True
        data += chunk


def test_stalled_bodies_are_cut_and_one_client_holds_a_bounded_number(serve) -> None:
    port, _, _ = serve
    stalled = [_stalled(port) for _ in range(LIMIT)]
    time.sleep(0.5)  # all three are in progress, waiting for their bodies
    form = {"CallSid": "CA-limit", "CallStatus": "completed"}
    body = "&".join(f"{k}={v}" for k, v in form.items()).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": _sign(f"http://127.0.0.1:{port}/webhooks/twilio", form)}
    status, text = _post(port, body, headers)
    assert status == 429, text
    for sock in stalled:
        line, closed = _answer(sock)
        assert line.startswith(b"HTTP/1.1 408"), line
        assert closed
        sock.close()
    assert _post(port, body, headers)[0] == 200  # the slots came back


def test_signatures_are_not_checked_against_the_requests_own_host(serve, broker) -> None:
    port, prefix, log = serve
    assert "PUBLIC_BASE_URL is not set" in log.read_text(errors="replace")
    assert f"http://127.0.0.1:{port}/webhooks/<source>" in log.read_text(errors="replace")
    form = {"CallSid": "CA-host", "CallStatus": "completed"}
    body = "&".join(f"{k}={v}" for k, v in form.items()).encode()
    staging = {"Content-Type": "application/x-www-form-urlencoded",
               "Host": "staging.example",
               "X-Twilio-Signature": _sign("http://staging.example/webhooks/twilio", form)}
    status, text = _post(port, body, staging)
    assert status == 403, text
    ours = {"Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": _sign(f"http://127.0.0.1:{port}/webhooks/twilio", form)}
    before = sum(broker.end_offsets(prefix + "twilio").values())
    first = _post(port, body, ours)
    replay = _post(port, body, ours)
    assert first[0] == 200 and json.loads(first[1])["accepted"] is True, first
    assert replay[0] == 200 and json.loads(replay[1])["duplicate"] is True, replay
    assert sum(broker.end_offsets(prefix + "twilio").values()) == before + 1
