"""The demo inbox: real SMTP and HTTP on 127.0.0.1, written to files; the notifier sends to it."""

from __future__ import annotations

import datetime as dt
import email
import json
import smtplib
import uuid
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from touchline.coaching.inbox import Inbox, demo_routing, start_inbox_thread
from touchline.coaching.notifier import Notifier
from touchline.coaching.routing import parse_routing
from touchline.coaching.transports import post_json
from touchline.plan.signals import Signal, reconcile
from touchline.settings import NotifySettings
from touchline.stack.services import free_port

pytestmark = pytest.mark.integration


def test_the_inbox_keeps_mail_and_posts(tmp_path):
    inbox = Inbox(tmp_path / "inbox")
    smtp_port, http_port = free_port(), free_port()
    start_inbox_thread(inbox, smtp_port, http_port)
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "hello", "a@example.com", "b@example.com"
    msg.set_content("line one\n.starts with a dot\n")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
    post_json(f"http://127.0.0.1:{http_port}/slack/demo", {"text": "hi"})
    files = sorted(p.name for p in inbox.directory.iterdir())
    assert files == ["00001.eml", "00002.json"]
    got = email.message_from_bytes((inbox.directory / "00001.eml").read_bytes(),
                                   policy=default_policy)
    assert got["Subject"] == "hello"
    # dot-stuffing undone; the file keeps the wire's CRLF line ends
    assert got.get_content().replace("\r\n", "\n") == "line one\n.starts with a dot\n"
    assert json.loads((inbox.directory / "00002.json").read_text()) == {
        "path": "/slack/demo", "body": {"text": "hi"}}


def test_the_demo_routing_sends_every_team_to_the_inbox(sink, tmp_path):
    inbox = Inbox(tmp_path / "inbox")
    smtp_port, http_port = free_port(), free_port()
    start_inbox_thread(inbox, smtp_port, http_port)
    tenant, team = f"t-{uuid.uuid4().hex[:8]}", f"team-{uuid.uuid4().hex[:6]}"
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reconcile(sink, [Signal(tenant=tenant, signal_id=f"idle_rep:r-{team}", kind="idle_rep",
                            rep_id=f"r-{team}", team_id=team, subject_type="rep",
                            subject_id=f"r-{team}", activity="any_touch",
                            message=f"Rep r-{team}: no call, email or meeting for 4d")],
              t0, [tenant])
    settings = NotifySettings(smtp_port=smtp_port, batch_s=0, digest_weekday=0)
    Notifier(sink, parse_routing(demo_routing(http_port)), settings, "demo").run_once(t0)
    mails = [p.read_text() for p in inbox.directory.glob("*.eml")]
    posts = [p.read_text() for p in inbox.directory.glob("*.json")]
    assert any(f"Rep r-{team}: no call" in m for m in mails)
    assert any(f"Rep r-{team}: no call" in p for p in posts)
