"""The notifier against real receivers: SMTP on 127.0.0.1 and an HTTP server for Slack and the
signed webhook; delivery state in a real (embedded) ClickHouse.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest

from touchline.coaching.notifier import Notifier
from touchline.coaching.routing import parse_routing
from touchline.coaching.transports import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from touchline.plan.signals import Signal, reconcile
from touchline.settings import NotifySettings

pytestmark = pytest.mark.integration

SECRET = "s3cret-for-tests"


def _signal(tenant: str, team: str, rep: str, subject: str, kind: str = "stuck_deal") -> Signal:
    return Signal(tenant=tenant, signal_id=f"{kind}:{subject}", kind=kind, rep_id=rep,
                  team_id=team, subject_type="opportunity", subject_id=subject,
                  activity="advance_deal",
                  message=f"Rep {rep}: deal {subject} has sat in proposal for 10d, past the 7d "
                          f"smb SLA; book a dated next step with the buyer or close it.")


@pytest.fixture
def world(sink, smtp_server, http_receiver, monkeypatch):
    """A tenant and team of their own, routed to email, Slack and a signed webhook."""
    tenant, team = f"t-{uuid.uuid4().hex[:8]}", f"team-{uuid.uuid4().hex[:6]}"
    port, box = smtp_server
    monkeypatch.setenv("TEST_SLACK_URL", http_receiver.url("/slack/T000/B000"))
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    routing = parse_routing(f"""
routes:
  - team: {team}
    email: [manager@example.com]
    slack: ${{TEST_SLACK_URL}}
    webhook:
      url: {http_receiver.url('/hook')}
      secret: ${{TEST_HOOK_SECRET}}
""")
    settings = NotifySettings(smtp_port=port, batch_s=60, mail_from="touchline@example.com",
                              digest_weekday=0)
    return tenant, team, box, http_receiver, routing, settings


def _posts(receiver, path):
    return [(h, json.loads(b)) for p, h, b in receiver.posts if p.startswith(path)]


def test_one_batch_per_manager_with_email_slack_and_a_signed_webhook(sink, world):
    tenant, team, box, receiver, routing, settings = world
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reconcile(sink, [_signal(tenant, team, "ae-1", "opp-1"), _signal(tenant, team, "ae-2",
                                                                     "opp-2")], t0, [tenant])
    notifier = Notifier(sink, routing, settings, "notifier-a")

    early = notifier.run_once(t0 + dt.timedelta(seconds=10))  # inside the batch window
    assert early.sent == [] and early.waiting == 6 and box.messages == []

    done = notifier.run_once(t0 + dt.timedelta(seconds=61))
    assert len(done.sent) == 3 and done.failed == []
    (rcpts, msg), = box.messages
    assert rcpts == ["manager@example.com"]
    assert msg["Subject"] == f"touchline coaching for {team}: 2 new"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for text in (plain, html):
        assert "deal opp-1 has sat in proposal for 10d" in text and "opp-2" in text
    assert "<h3" in html and "ae-1" in html
    (_, slack), = _posts(receiver, "/slack/")
    assert slack["text"] == msg["Subject"]
    assert "opp-1" in json.dumps(slack["blocks"]) and slack["blocks"][0]["type"] == "header"
    (headers, hook), = _posts(receiver, "/hook")
    body = next(b for p, _, b in receiver.posts if p == "/hook")
    assert headers[SIGNATURE_HEADER] == sign(SECRET, headers[TIMESTAMP_HEADER], body)
    assert {e["signal_id"] for e in hook["events"]} == {"stuck_deal:opp-1", "stuck_deal:opp-2"}
    assert {e["change"] for e in hook["events"]} == {"fired"}

    # a restarted notifier (a new instance, same tables) sends nothing again
    again = Notifier(sink, routing, settings, "notifier-a").run_once(
        t0 + dt.timedelta(seconds=200))
    assert again.sent == [] and len(box.messages) == 1 and len(receiver.posts) == 2


def test_a_resolution_is_sent_once_and_a_refresh_not_at_all(sink, world):
    tenant, team, box, receiver, routing, settings = world
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    sig = _signal(tenant, team, "ae-1", "opp-9")
    reconcile(sink, [sig], t0, [tenant])
    notifier = Notifier(sink, routing, settings, "notifier-a")
    assert len(notifier.run_once(t0 + dt.timedelta(seconds=61)).sent) == 3
    # the evidence changes (same fired_at): no new message
    changed = Signal(**{**sig.__dict__, "message": sig.message + " (updated)",
                        "fingerprint": "other"})
    reconcile(sink, [changed], t0 + dt.timedelta(seconds=100), [tenant])
    assert notifier.run_once(t0 + dt.timedelta(seconds=200)).sent == []
    # it clears: one resolution per channel, once
    reconcile(sink, [], t0 + dt.timedelta(seconds=300), [tenant])
    resolved = notifier.run_once(t0 + dt.timedelta(seconds=400))
    assert len(resolved.sent) == 3
    assert box.messages[-1][1]["Subject"] == f"touchline coaching for {team}: 1 resolved"
    assert "resolved: Rep ae-1" in box.messages[-1][1].get_body(("plain",)).get_content()
    assert notifier.run_once(t0 + dt.timedelta(seconds=500)).sent == []
    assert len(box.messages) == 2


def test_a_signal_that_cleared_before_its_batch_is_not_sent(sink, world):
    tenant, team, box, receiver, routing, settings = world
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reconcile(sink, [_signal(tenant, team, "ae-1", "opp-blip")], t0, [tenant])
    reconcile(sink, [], t0 + dt.timedelta(seconds=20), [tenant])
    notifier = Notifier(sink, routing, settings, "notifier-a")
    assert notifier.run_once(t0 + dt.timedelta(seconds=120)).sent == []
    assert box.messages == [] and receiver.posts == []


def test_a_failed_delivery_is_retried_later_and_sent_once(sink, world):
    tenant, team, box, receiver, routing, settings = world
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reconcile(sink, [_signal(tenant, team, "ae-1", "opp-r")], t0, [tenant])
    receiver.fail_next = 2  # Slack and the webhook answer 500 once each
    notifier = Notifier(sink, routing, settings, "notifier-a")
    first = notifier.run_once(t0 + dt.timedelta(seconds=61))
    assert len(first.sent) == 1 and len(first.failed) == 2  # the email went out
    errors = sink.query(
        "SELECT channel, status, attempt, error FROM touchline.notifications_sent FINAL "
        "WHERE tenant = {t:String} ORDER BY channel", {"t": tenant}).rows
    assert [(c, s, a) for c, s, a, _ in errors] == [
        ("email", "sent", 1), ("slack", "failed", 1), ("webhook", "failed", 1)]
    assert "HTTP 500" in errors[1][3]
    # not before the back-off (30 s after the failure), then once
    real_now = dt.datetime.now(dt.UTC)
    assert notifier.run_once(real_now + dt.timedelta(seconds=5)).sent == []
    retry = notifier.run_once(real_now + dt.timedelta(seconds=40))
    assert len(retry.sent) == 2 and len(box.messages) == 1
    assert len(_posts(receiver, "/slack/")) == 1 and len(_posts(receiver, "/hook")) == 1
    assert notifier.run_once(real_now + dt.timedelta(seconds=400)).sent == []


def test_two_notifiers_at_once_send_each_message_once(sink, world):
    tenant, team, box, receiver, routing, settings = world
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reconcile(sink, [_signal(tenant, team, f"ae-{i}", f"opp-2n-{i}") for i in range(5)], t0,
              [tenant])
    results = {}

    def run(name: str) -> None:
        results[name] = Notifier(sink, routing, settings, name).run_once(
            t0 + dt.timedelta(seconds=61))

    threads = [threading.Thread(target=run, args=(n,)) for n in ("notifier-a", "notifier-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(len(r.sent) for r in results.values()) == 3
    assert len(box.messages) == 1 and len(receiver.posts) == 2
    hook = _posts(receiver, "/hook")[0][1]
    assert len(hook["events"]) == 5


def test_routes_by_manager_from_the_org_and_by_default(sink, smtp_server, monkeypatch):
    port, box = smtp_server
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    managed, other = f"team-{uuid.uuid4().hex[:6]}", f"team-{uuid.uuid4().hex[:6]}"
    manager = f"mgr-{uuid.uuid4().hex[:6]}"
    sink.command(f"INSERT INTO touchline.org_teams (tenant, team_id, name, manager_rep_id, "
                 f"is_deleted, version) VALUES ('{tenant}', '{managed}', 'Managed', "
                 f"'{manager}', 0, 1)")
    routing = parse_routing(f"""
routes:
  - manager: {manager}
    email: [boss@example.com]
    kinds: [stuck_deal]
  - default: true
    email: [ops@example.com]
""")
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reconcile(sink, [_signal(tenant, managed, "ae-1", "opp-m"),
                     _signal(tenant, managed, "ae-1", "acc-m", kind="untouched_account"),
                     _signal(tenant, other, "ae-3", "opp-o")], t0, [tenant])
    settings = NotifySettings(smtp_port=port, batch_s=0, digest_weekday=0)
    Notifier(sink, routing, settings, "notifier-a").run_once(t0 + dt.timedelta(seconds=1))
    got = {tuple(r): msg.get_body(("plain",)).get_content() for r, msg in box.messages}
    assert "opp-m" in got[("boss@example.com",)] and "acc-m" not in got[("boss@example.com",)]
    # the default route gets the unmanaged team (and other tests' teams: the table is shared)
    assert "opp-o" in got[("ops@example.com",)] and "opp-m" not in got[("ops@example.com",)]


def test_routing_errors_name_the_field():
    from touchline.coaching.routing import RoutingError

    with pytest.raises(RoutingError) as err:
        parse_routing("routes:\n  - team: a\n    manager: b\n    slack: not-a-url\n", "r.yaml")
    text = str(err.value)
    assert text.startswith("r.yaml: ") and "routes.1.slack: must be an http(s) URL" in text
    with pytest.raises(RoutingError, match="routes.1: a route names exactly one of"):
        parse_routing("routes:\n  - team: a\n    manager: b\n    email: [a@b.c]\n")
    with pytest.raises(RoutingError, match="more than one route for team:a"):
        parse_routing("routes:\n  - {team: a, email: [a@b.c]}\n  - {team: a, email: [c@d.e]}\n")
