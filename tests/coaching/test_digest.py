"""The weekly digest: its numbers on a week with known truth, its HTML charts rendered in
headless Chromium, and its delivery (on demand and on the notifier's schedule) to a real SMTP
server on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.plan.conftest import Scenario
from touchline.coaching.digest import build_digest, parse_week, week_label
from touchline.coaching.digest_html import render_html
from touchline.coaching.notifier import Notifier
from touchline.coaching.routing import parse_routing
from touchline.plan.signals import evaluate, reconcile
from touchline.settings import NotifySettings, get_settings

pytestmark = pytest.mark.integration

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _weeks(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Monday of last week and of the week before."""
    today = now.date()
    last = today - dt.timedelta(days=today.weekday() + 7)
    monday = dt.datetime(last.year, last.month, last.day, tzinfo=dt.UTC)
    return monday, monday - 7 * D


@pytest.fixture
def week(sink):
    """Two SDRs on team-1: one busy and rising, one who stopped mid-week; a stuck deal."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    monday, before = _weeks(now)
    s = Scenario(sink, f"t-{uuid.uuid4().hex[:8]}", now)
    s.load_plan(effective_from=before - 30 * D)
    busy, quiet = f"busy-{uuid.uuid4().hex[:4]}", f"quiet-{uuid.uuid4().hex[:4]}"
    s.rep(busy, "sdr")
    s.rep(quiet, "sdr")
    s.account("acc-1", "B", "smb", owner=busy)
    rows = []
    for i in range(150):  # busy: 150 calls last week, 100 the week before
        rows.append(s.activity("call", monday + dt.timedelta(minutes=40 * i + 60), busy,
                               prospect_id=f"p-{i % 30}", account_id="acc-1"))
    for i in range(100):
        rows.append(s.activity("call", before + dt.timedelta(minutes=40 * i + 60), busy,
                               account_id="acc-1"))
    for i in range(60):  # quiet: 60 emails the week before, 12 last week (Monday only)
        rows.append(s.activity("email", before + dt.timedelta(minutes=60 * i + 60), quiet))
    for i in range(12):
        rows.append(s.activity("email", monday + dt.timedelta(minutes=30 * i + 60), quiet,
                               prospect_id="p-solo"))
    s.insert_activities(rows)
    # in proposal 12 days when the digest week ends (and longer now): whatever today is
    s.opportunity("opp-late", "acc-1", busy, "proposal", monday - 5 * D)
    reconcile(sink, evaluate(sink, now, [s.tenant]), now, [s.tenant])
    return s, monday, busy, quiet


def test_the_digest_numbers(sink, week):
    s, monday, busy, quiet = week
    d = build_digest(sink, s.tenant, "team-1", monday, s.now)
    assert d.week == week_label(monday) and parse_week(d.week) == monday
    reps = {r.rep_id: r for r in d.reps}
    calls = next(a for a in reps[busy].activities if a.activity == "call_attempts")
    assert (calls.done, calls.target, calls.last_done) == (150, 200, 100)
    emails = next(a for a in reps[quiet].activities if a.activity == "emails_sent")
    assert (emails.done, emails.last_done) == (12, 60)
    # 30 prospects got 5 calls each; p-solo got 12 emails
    assert d.touches == {"0": 0, "1": 0, "2": 0, "3": 0, "4": 0, "5": 30, "6": 0, "7": 0,
                         "8+": 1}
    assert [x["opportunity_id"] for x in reps[busy].stuck] == ["opp-late"]
    assert any("opp-late" in x["message"] for x in reps[busy].signals)
    assert any(x["kind"] == "idle_rep" for x in reps[quiet].signals)  # no touch since Monday
    only = build_digest(sink, s.tenant, "team-1", monday, s.now, rep=quiet)
    assert [r.rep_id for r in only.reps] == [quiet] and only.touches["8+"] == 1


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_the_html_draws_its_charts_itself_and_renders_in_chromium(sink, week, tmp_path):
    s, monday, busy, quiet = week
    digest = build_digest(sink, s.tenant, "team-1", monday, s.now)
    page = render_html(digest)
    # touches + one per rep and activity; no lead arrived, so no speed-to-lead line
    lines = sum(len(r.activities) for r in digest.reps)
    assert lines >= 8 and page.count("<svg") == 1 + lines
    assert "new leads touched" not in page
    assert "<script" not in page and "src=" not in page and "href=" not in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "up 50% on last week" in page and "down 80% on last week" in page
    for red_green in ("red", "green", "#f00", "#0f0"):
        assert red_green not in page.lower()
    html_file = tmp_path / "digest.html"
    html_file.write_text(page)
    shot = tmp_path / "digest.png"
    run = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=800,1400", html_file.as_uri()],
        capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert _png_size(shot) == (800, 1400)
    assert shot.stat().st_size > 20_000  # charts and text, not a blank page
    keep = Path("/tmp/touchline-digest-screenshot.png")
    shutil.copy(shot, keep)


def test_digest_cli_html_and_send_once(sink, week, smtp_server, tmp_path, monkeypatch):
    from touchline.coaching.cli import digest

    s, monday, busy, quiet = week
    port, box = smtp_server
    routing = tmp_path / "routing.yaml"
    routing.write_text("routes:\n  - team: team-1\n    email: [manager@example.com]\n")
    monkeypatch.setenv("TOUCHLINE_NOTIFY__SMTP_PORT", str(port))
    get_settings.cache_clear()
    try:
        obj = {"sink": sink}
        args = ["--team", "team-1", "--week", week_label(monday), "--tenant", s.tenant]
        out = CliRunner().invoke(digest, [*args, "--html", str(tmp_path / "d.html")], obj=obj)
        assert out.exit_code == 0, out.output
        assert "<svg" in (tmp_path / "d.html").read_text()
        sent = CliRunner().invoke(digest, [*args, "--send", "--routing", str(routing)], obj=obj)
        assert sent.exit_code == 0, sent.output
        assert "sent to team:team-1 by email" in sent.output
        again = CliRunner().invoke(digest, [*args, "--send", "--routing", str(routing)], obj=obj)
        assert "already sent to team:team-1" in again.output
        (rcpts, msg), = box.messages
        assert msg["Subject"] == f"touchline weekly digest: team team-1, {week_label(monday)}"
        assert "<svg" in msg.get_body(("html",)).get_content()
        assert "call attempts: 150 of 200" in msg.get_body(("plain",)).get_content()
        bad = CliRunner().invoke(digest, ["--team", "team-1", "--week", "49"], obj=obj)
        assert bad.exit_code == 2 and "write it as YYYY-Www" in bad.output
    finally:
        get_settings.cache_clear()


def test_the_notifier_sends_last_weeks_digest_on_its_day(sink, week, smtp_server):
    s, monday, busy, quiet = week
    port, box = smtp_server
    routing = parse_routing("routes:\n  - team: team-1\n    email: [manager@example.com]\n")
    now = dt.datetime.now(dt.UTC)
    settings = NotifySettings(smtp_port=port, batch_s=10**9, digest_weekday=now.isoweekday(),
                              digest_hour=0)
    first = Notifier(sink, routing, settings, "notifier-a").run_once(now)
    assert f"team-1 {week_label(monday)} email" in first.digests
    mine = [m for _, m in box.messages if busy in m.get_body(("plain",)).get_content()]
    assert len(mine) == 1
    # another notifier (or this one restarted) finds every digest of the week already sent
    assert Notifier(sink, routing, settings, "notifier-b").run_once(now + H).digests == []
    assert len(box.messages) == len(first.digests)
    off = NotifySettings(smtp_port=port, batch_s=10**9, digest_weekday=0)
    assert Notifier(sink, routing, off, "notifier-c").run_once(now).digests == []


def test_each_rep_gets_their_own_digest_at_their_org_email(sink, week, smtp_server):
    s, monday, busy, quiet = week
    port, box = smtp_server
    t0 = s.now - 400 * D
    sink.command(
        "INSERT INTO touchline.org_rep_periods (tenant, rep_id, active_from, active_to, name, "
        "email, role, team_id, manager_rep_id, is_deleted, version) VALUES "
        f"('{s.tenant}', '{busy}', '{t0:%Y-%m-%d %H:%M:%S}', '2106-01-01 00:00:00', 'Busy', "
        f"'{busy}@example.com', 'sdr', 'team-1', 'mgr-1', 0, 1)")
    routing = parse_routing("routes:\n  - team: team-1\n    email: [manager@example.com]\n"
                            "    rep_digests: true\n")
    now = dt.datetime.now(dt.UTC)
    settings = NotifySettings(smtp_port=port, batch_s=10**9, digest_weekday=now.isoweekday(),
                              digest_hour=0)
    sent = Notifier(sink, routing, settings, "notifier-r").run_once(now).digests
    assert f"team-1 {week_label(monday)} email {busy}" in sent
    mine = {tuple(r): m for r, m in box.messages if busy in m["Subject"]}
    (msg,) = mine.values()
    assert list(mine) == [(f"{busy}@example.com",)]
    assert msg["Subject"] == f"touchline weekly digest: rep {busy} (team-1), {week_label(monday)}"
    assert quiet not in msg.get_body(("plain",)).get_content()
    assert Notifier(sink, routing, settings, "notifier-s").run_once(now).digests == []
