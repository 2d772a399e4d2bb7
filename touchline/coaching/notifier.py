"""The notifier: coaching signals to their team's manager, when they fire and resolve.

Each signal goes out when it fires and once when it resolves, batched per recipient and
channel, retried, never sent twice.

One pass (`Notifier.run_once`) reads the signals that changed in the last week
(`signals FINAL`), routes each by its team (touchline.coaching.routing), and for every
recipient and channel whose oldest waiting event is `batch_s` old, claims the deliveries
(touchline.coaching.ledger), sends one message with the ones it won, and records the outcome.
A resolution is sent only when its firing was; a signal that fired and cleared before its
batch went out is not sent at all. `touchline notifier` runs passes every `poll_s`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from touchline.coaching import messages as m
from touchline.coaching import transports as tx
from touchline.coaching.ledger import Delivery, Ledger, delivery_key
from touchline.coaching.routing import Route, Routing, expand_env
from touchline.settings import NotifySettings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkUnavailable, SqlError

log = logging.getLogger(__name__)

#: signals that changed longer ago than this are not announced any more
LOOKBACK_S = 7 * 86_400

_CHANGED_SIGNALS = """
SELECT tenant, signal_id, kind, status, team_id, rep_id, message, fired_at, resolved_at
FROM {db}.signals FINAL
WHERE fired_at >= {since:DateTime64(3, 'UTC')} OR resolved_at >= {since:DateTime64(3, 'UTC')}
ORDER BY tenant, signal_id
"""

_TEAM_MANAGERS = "SELECT team_id, manager_rep_id FROM {db}.teams"


@dataclass
class PassResult:
    """What one pass did."""

    sent: list[str] = field(default_factory=list)  # batch ids
    failed: list[str] = field(default_factory=list)
    waiting: int = 0
    digests: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{len(self.sent)} message(s) sent, {len(self.failed)} failed, "
                f"{self.waiting} event(s) waiting for their batch, "
                f"{len(self.digests)} digest(s) sent")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def signal_events(sink: ClickHouseSink, now: dt.datetime) -> list[m.SignalEvent]:
    """Every signal's latest change within the lookback, as an event."""
    rows = sink.query(_CHANGED_SIGNALS.replace("{db}", sink.database),
                      {"since": now - dt.timedelta(seconds=LOOKBACK_S)}).dicts()
    out = []
    for r in rows:
        fired = _utc(r["fired_at"])
        resolved = r["status"] == "resolved" and r["resolved_at"] is not None
        out.append(m.SignalEvent(
            tenant=r["tenant"], signal_id=r["signal_id"], kind=r["kind"],
            change="resolved" if resolved else "fired", team_id=r["team_id"],
            rep_id=r["rep_id"], message=r["message"], fired_at=fired,
            at=_utc(r["resolved_at"]) if resolved else fired))
    return out


def team_managers(sink: ClickHouseSink) -> dict[str, str]:
    """team_id -> manager rep id, from the org (empty before an org is loaded)."""
    try:
        rows = sink.query(_TEAM_MANAGERS.replace("{db}", sink.database)).rows
    except SqlError:  # no org tables yet: team and default routes still work
        return {}
    return {team: manager for team, manager in rows if manager}


def batch_id(keys: list[str]) -> str:
    """A short stable id of a batch's deliveries."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:24]


class Notifier:
    """Routes, batches and sends coaching signals; one instance per process."""

    def __init__(self, sink: ClickHouseSink, routing: Routing, settings: NotifySettings,
                 owner: str) -> None:
        self.sink, self.routing, self.settings = sink, routing, settings
        self.ledger = Ledger(sink, owner, settings.lease_s, settings.max_attempts)
        self._digests_done: dt.date | None = None

    def run_once(self, now: dt.datetime | None = None) -> PassResult:
        """One pass: route, batch, claim, send, record."""
        now = _utc(now or dt.datetime.now(dt.UTC))
        result = PassResult()
        managers = team_managers(self.sink)
        wanted: dict[tuple[str, str], list[tuple[Delivery, m.SignalEvent]]] = defaultdict(list)
        routes: dict[str, Route] = {}
        for event in signal_events(self.sink, now):
            route = self.routing.route_for(event.team_id, managers)
            if route is None or not route.wants(event.kind):
                continue
            routes[route.name] = route
            for channel in route.channels():
                d = Delivery(delivery_key(channel, route.name, event.event), event.tenant,
                             route.name, channel, event.event)
                wanted[(route.name, channel)].append((d, event))
        for (recipient, channel), items in sorted(wanted.items()):
            items = self._announceable(items)
            due = self.ledger.due([d.key for d, _ in items], now)
            items = [(d, e) for d, e in items if d.key in due]
            if not items:
                continue
            oldest = min(e.at for _, e in items)
            retrying = any(due[d.key] > 1 for d, _ in items)  # a retry does not wait again
            if not retrying and (now - oldest).total_seconds() < self.settings.batch_s:
                result.waiting += len(items)
                continue
            self._deliver(routes[recipient], channel, items, due, now, result)
        result.digests = self._digests(managers, now)
        return result

    def _digests(self, managers: dict[str, str], now: dt.datetime) -> list[str]:
        """Last week's digests, once per week (a pass after they went out reads nothing)."""
        from touchline.coaching.digest_send import scheduled_digests

        week = now.date() - dt.timedelta(days=now.weekday())
        if self._digests_done == week:
            return []
        sent = scheduled_digests(self.sink, self.routing, self.settings, self.ledger,
                                 managers, now)
        if sent or now.isoweekday() > self.settings.digest_weekday:
            self._digests_done = week
        return sent

    def _announceable(self, items: list[tuple[Delivery, m.SignalEvent]]
                      ) -> list[tuple[Delivery, m.SignalEvent]]:
        """Drop resolutions whose firing was never sent on this channel."""
        fired_keys = {d.key: d.key.replace("|resolve:", "|fire:", 1) for d, e in items
                      if e.change == "resolved"}
        sent = self.ledger.sent_keys(list(fired_keys.values()))
        return [(d, e) for d, e in items if e.change == "fired" or fired_keys[d.key] in sent]

    def _deliver(self, route: Route, channel: str,
                 items: list[tuple[Delivery, m.SignalEvent]], due: dict[str, int],
                 now: dt.datetime, result: PassResult) -> None:
        attempts = {d.key: due[d.key] for d, _ in items}
        won = self.ledger.claim_and_settle(attempts, now)
        items = [(d, e) for d, e in items if d.key in won]
        if not items:
            return
        attempts = {d.key: attempts[d.key] for d, _ in items}
        bid = batch_id(list(attempts))
        title = route.team or (f"manager {route.manager}" if route.manager else "your teams")
        batch = m.Batch(route.name, title, tuple(e for _, e in items))
        deliveries = [d for d, _ in items]
        try:
            send(route, channel, batch, self.settings, now, bid)
        except (tx.DeliveryError, ValueError) as exc:
            attempt = max(attempts.values())
            retry_in = min(3600.0, 30.0 * 2 ** (attempt - 1))
            log.warning("notifier: %s to %s failed (attempt %d, next in %.0f s): %s",
                        channel, route.name, attempt, retry_in, exc)
            self.ledger.record(deliveries, attempts, "failed", _utc(dt.datetime.now(dt.UTC)),
                               bid, str(exc), retry_in)
            result.failed.append(bid)
            return
        self.ledger.record(deliveries, attempts, "sent", _utc(dt.datetime.now(dt.UTC)), bid)
        log.info("notifier: %s to %s: %s", channel, route.name, batch.subject())
        result.sent.append(bid)

    def run_forever(self, heartbeat: Path | None = None) -> None:
        """Passes every poll_s until interrupted; a store outage waits and tries again.

        Args:
            heartbeat: a file touched after every pass that reached ClickHouse (the
                container's health check reads its age).
        """
        while True:
            try:
                outcome = self.run_once()
                if outcome.sent or outcome.failed:
                    log.info("notifier: %s", outcome)
                if heartbeat is not None:
                    heartbeat.parent.mkdir(parents=True, exist_ok=True)
                    heartbeat.touch()
            except (SinkUnavailable, SqlError) as exc:
                log.warning("notifier: ClickHouse: %s; trying again in %.0f s", exc,
                            self.settings.poll_s)
            time.sleep(self.settings.poll_s)


def send(route: Route, channel: str, batch: m.Batch, settings: NotifySettings,
         now: dt.datetime, bid: str) -> None:
    """Send one batch on one channel of a route.

    Raises:
        DeliveryError: the receiver refused it or did not answer.
        RoutingError: a secret the route refers to is not set.
    """
    if channel == "email":
        msg = m.email_message(batch, settings.mail_from, [expand_env(a) for a in route.email],
                              now, bid)
        tx.send_email(settings, msg)
    elif channel == "slack" and route.slack:
        tx.post_json(expand_env(route.slack), m.slack_payload(batch))
    elif channel == "webhook" and route.webhook:
        tx.post_json(expand_env(route.webhook.url), m.webhook_document(batch, bid),
                     secret=expand_env(route.webhook.secret))
    else:
        raise ValueError(f"route {route.name} has no {channel} channel")
