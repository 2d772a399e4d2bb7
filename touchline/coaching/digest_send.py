"""Sending the weekly digest, on demand (`touchline digest --send`) and on a schedule.

The notifier sends it on its schedule through the same routes, claims and ledger as the
signals, so a digest goes out once a week however many notifiers run.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from touchline.coaching import transports as tx
from touchline.coaching.digest import ACTIVITY_WORDS, Digest, build_digest, week_label
from touchline.coaching.digest_html import render_html, render_text, trend_words
from touchline.coaching.ledger import Delivery, Ledger, delivery_key
from touchline.coaching.routing import Route, Routing, expand_env
from touchline.settings import NotifySettings
from touchline.sinks.clickhouse import ClickHouseSink

#: reps of a team now, with their email (org file); reps without one get no digest of their own
_REP_EMAILS = """
SELECT rep_id, any(email) AS address FROM {db}.rep_periods
WHERE tenant = {tenant:String} AND team_id = {team:String} AND email != ''
  AND active_from <= {now:DateTime64(3, 'UTC')} AND active_to > {now:DateTime64(3, 'UTC')}
GROUP BY rep_id
ORDER BY rep_id
"""

_TEAMS_OF_WEEK = """
SELECT DISTINCT tenant, team_id FROM {db}.rep_week_vs_target
WHERE week_start = {week:DateTime64(3, 'UTC')} AND team_id != ''
ORDER BY tenant, team_id
"""


def digest_email(d: Digest, sender: str, to: list[str], now: dt.datetime) -> EmailMessage:
    """The digest as a multipart email: plain text, then the HTML with its inline charts."""
    msg = EmailMessage()
    msg["Subject"] = d.title
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring=f"digest-{d.week}", domain="touchline.local")
    msg.set_content(render_text(d))
    msg.add_alternative(render_html(d), subtype="html")
    return msg


def digest_slack(d: Digest) -> dict[str, object]:
    """A short Slack summary: per rep, each activity vs target and its trend."""
    lines = []
    for rw in d.reps:
        acts = "; ".join(f"{ACTIVITY_WORDS[a.activity]} {a.done:.0f}/{a.target:.0f} "
                         f"({trend_words(a)})" for a in rw.activities) or "no activity"
        todo = f"; {len(rw.signals)} to work on" if rw.signals else ""
        lines.append(f"*{rw.rep_id}*: {acts}{todo}")
    return {"text": d.title, "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": d.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]
                                     or "no activity"}}]}


def send_digest(sink: ClickHouseSink, route: Route, settings: NotifySettings, ledger: Ledger,
                d: Digest, now: dt.datetime) -> list[str]:
    """Send one digest on every channel of a route, once per week; returns the channels sent.

    Raises:
        DeliveryError: a channel refused it (recorded; the next pass tries again).
    """
    event = f"digest:{d.tenant}:{d.team}:{d.rep}:{d.week}"
    deliveries = [Delivery(delivery_key(c, route.name, event), d.tenant, route.name, c, event)
                  for c in route.channels()]
    due = ledger.due([x.key for x in deliveries], now)
    sent = []
    for delivery in deliveries:
        if delivery.key not in due:
            continue
        attempts = {delivery.key: due[delivery.key]}
        if delivery.key not in ledger.claim_and_settle(attempts, now):
            continue
        try:
            if delivery.channel == "email":
                tx.send_email(settings, digest_email(
                    d, settings.mail_from, [expand_env(a) for a in route.email], now))
            elif delivery.channel == "slack" and route.slack:
                tx.post_json(expand_env(route.slack), digest_slack(d))
            elif delivery.channel == "webhook" and route.webhook:
                tx.post_json(expand_env(route.webhook.url),
                             {"digest": {"tenant": d.tenant, "team": d.team, "week": d.week,
                                         "text": render_text(d), "html": render_html(d)}},
                             secret=expand_env(route.webhook.secret))
        except tx.DeliveryError as exc:
            ledger.record([delivery], attempts, "failed", now, event, str(exc), 300.0)
            raise
        ledger.record([delivery], attempts, "sent", now, event)
        sent.append(delivery.channel)
    return sent


def scheduled_digests(sink: ClickHouseSink, routing: Routing, settings: NotifySettings,
                      ledger: Ledger, managers: dict[str, str], now: dt.datetime) -> list[str]:
    """Last week's digest for every routed team, once the week's digest time has come.

    Returns:
        `team week channel` of each digest sent now.
    """
    if not settings.digest_weekday:
        return []
    today = now.date()
    monday = today - dt.timedelta(days=today.weekday())
    due_at = dt.datetime.combine(monday + dt.timedelta(days=settings.digest_weekday - 1),
                                 dt.time(settings.digest_hour), tzinfo=dt.UTC)
    if now < due_at:
        return []
    week = dt.datetime.combine(monday - dt.timedelta(days=7), dt.time(), tzinfo=dt.UTC)
    rows = sink.query(_TEAMS_OF_WEEK.replace("{db}", sink.database), {"week": week}).rows
    out = []
    for tenant, team in rows:
        route = routing.route_for(team, managers)
        if route is None or not route.digest:
            continue
        d = build_digest(sink, tenant, team, week, now)
        try:
            sent = send_digest(sink, route, settings, ledger, d, now)
        except tx.DeliveryError:
            continue  # recorded; tried again on a later pass
        out += [f"{team} {week_label(week)} {c}" for c in sent]
        if route.rep_digests:
            out += _rep_digests(sink, settings, ledger, tenant, team, week, now)
    return out


def _rep_digests(sink: ClickHouseSink, settings: NotifySettings, ledger: Ledger, tenant: str,
                 team: str, week: dt.datetime, now: dt.datetime) -> list[str]:
    """Each rep of the team with an email in the org gets their own digest, once a week."""
    rows = sink.query(_REP_EMAILS.replace("{db}", sink.database),
                      {"tenant": tenant, "team": team, "now": now}).rows
    out = []
    for rep, address in rows:
        own = Route(team=team, email=[address], digest=True)
        d = build_digest(sink, tenant, team, week, now, rep=rep)
        try:
            sent = send_digest(sink, own, settings, ledger, d, now)
        except tx.DeliveryError:
            continue
        out += [f"{team} {week_label(week)} {c} {rep}" for c in sent]
    return out
