"""Exactly-once delivery bookkeeping in ClickHouse: claim a key, send, record the outcome.

Keys are deterministic (channel, recipient, event), so two notifiers, or one restarted,
compute the same keys. A notifier inserts a claim for each key it wants to send, waits
`settle_s` so that a rival's claim inserted at the same moment is visible, and sends only the
keys whose earliest claim of that attempt is its own. An outcome row (`sent` or `failed`)
closes the attempt; a claim left without an outcome for `lease_s` (a crash mid-send) is tried
again as the next attempt.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from touchline.sinks.clickhouse import ClickHouseSink

#: wait after claiming, so a rival notifier's claim of the same moment is visible
SETTLE_S = 1.0

_TS6 = pa.timestamp("us", tz="UTC")
_TS3 = pa.timestamp("ms", tz="UTC")
_CLAIMS = pa.schema([("notification_key", pa.string()), ("attempt", pa.uint16()),
                     ("owner", pa.string()), ("claimed_at", _TS6)])
_OUTCOMES = pa.schema([
    ("notification_key", pa.string()), ("tenant", pa.string()), ("recipient", pa.string()),
    ("channel", pa.string()), ("event", pa.string()), ("status", pa.string()),
    ("attempt", pa.uint16()), ("owner", pa.string()), ("batch_id", pa.string()),
    ("error", pa.string()), ("at", _TS3), ("next_attempt_at", _TS3), ("version", pa.uint64()),
])

_STATE = """
SELECT k.key AS key, s.status AS status, s.attempt AS done_attempt,
       s.next_attempt_at AS next_attempt_at, c.last_attempt AS claimed_attempt,
       c.last_claimed_at AS claimed_at
FROM (SELECT arrayJoin({keys:Array(String)}) AS key) AS k
LEFT JOIN (SELECT notification_key, status, attempt, next_attempt_at
           FROM {db}.notifications_sent FINAL
           WHERE notification_key IN {keys:Array(String)}) AS s ON k.key = s.notification_key
LEFT JOIN (SELECT notification_key, max(attempt) AS last_attempt,
                  argMax(claimed_at, attempt) AS last_claimed_at
           FROM {db}.notification_claims
           WHERE notification_key IN {keys:Array(String)}
           GROUP BY notification_key) AS c ON k.key = c.notification_key
"""

#: claims travel as `<key>#<attempt>` strings: a parameter of tuples does not survive the
#: store's JSON (a tuple arrives as a list)
_WINNERS = """
SELECT notification_key, argMin(owner, (claimed_at, owner)) AS winner
FROM {db}.notification_claims
WHERE notification_key IN {keys:Array(String)}
  AND has({claims:Array(String)}, concat(notification_key, '#', toString(attempt)))
GROUP BY notification_key
"""


@dataclass(frozen=True)
class Delivery:
    """One event for one recipient on one channel."""

    key: str
    tenant: str
    recipient: str
    channel: str
    event: str


def delivery_key(channel: str, recipient: str, event: str) -> str:
    """The deterministic key of a delivery."""
    return f"{channel}|{recipient}|{event}"


class Ledger:
    """The notification tables of one sink, for one claimant."""

    def __init__(self, sink: ClickHouseSink, owner: str, lease_s: float, max_attempts: int):
        self.sink, self.owner = sink, owner
        self.lease_s, self.max_attempts = lease_s, max_attempts

    def _sql(self, text: str) -> str:
        return text.replace("{db}", self.sink.database)

    def due(self, keys: list[str], now: dt.datetime) -> dict[str, int]:
        """Keys that may be sent now, with the attempt number their claim will carry."""
        if not keys:
            return {}
        rows = self.sink.query(self._sql(_STATE), {"keys": keys}).dicts()
        out = {}
        epoch = dt.datetime(1971, 1, 1)
        lease = dt.timedelta(seconds=self.lease_s)
        naive_now = now.astimezone(dt.UTC).replace(tzinfo=None)
        for r in rows:
            done, claimed = r["done_attempt"] or 0, r["claimed_attempt"] or 0
            if r["status"] == "sent":
                continue
            if claimed > done:  # in flight, unless its claimant vanished
                if _naive(r["claimed_at"]) > naive_now - lease:
                    continue
                attempt = claimed + 1
            elif r["status"] == "failed":
                next_at = _naive(r["next_attempt_at"])
                if done >= self.max_attempts or (next_at > epoch and next_at > naive_now):
                    continue
                attempt = done + 1
            else:
                attempt = 1
            if attempt <= self.max_attempts:
                out[r["key"]] = attempt
        return out

    def claim(self, attempts: dict[str, int], now: dt.datetime) -> None:
        """Insert this claimant's claim for each key and attempt."""
        rows = [{"notification_key": k, "attempt": a, "owner": self.owner, "claimed_at": now}
                for k, a in attempts.items()]
        if rows:
            self.sink.insert("notification_claims", pa.Table.from_pylist(rows, schema=_CLAIMS))

    def won(self, attempts: dict[str, int]) -> set[str]:
        """The keys whose earliest claim of that attempt is this claimant's."""
        if not attempts:
            return set()
        rows = self.sink.query(self._sql(_WINNERS), {
            "keys": list(attempts), "claims": [f"{k}#{a}" for k, a in attempts.items()]}).rows
        return {key for key, winner in rows if winner == self.owner}

    def claim_and_settle(self, attempts: dict[str, int], now: dt.datetime) -> set[str]:
        """Claim, wait SETTLE_S for rival claims to land, and return the keys this one won."""
        self.claim(attempts, now)
        time.sleep(SETTLE_S)
        return self.won(attempts)

    def record(self, deliveries: list[Delivery], attempts: dict[str, int], status: str,
               now: dt.datetime, batch_id: str, error: str = "",
               retry_in_s: float = 0.0) -> None:
        """Record the outcome of one attempt for each delivery."""
        version = int(now.timestamp() * 1_000_000)
        next_at = now + dt.timedelta(seconds=retry_in_s) if retry_in_s else dt.datetime(
            1970, 1, 1, tzinfo=dt.UTC)
        rows: list[dict[str, Any]] = [
            {"notification_key": d.key, "tenant": d.tenant, "recipient": d.recipient,
             "channel": d.channel, "event": d.event, "status": status,
             "attempt": attempts[d.key], "owner": self.owner, "batch_id": batch_id,
             "error": error[:500], "at": now, "next_attempt_at": next_at,
             "version": version + attempts[d.key]}
            for d in deliveries]
        if rows:
            self.sink.insert("notifications_sent", pa.Table.from_pylist(rows, schema=_OUTCOMES))

    def sent_keys(self, keys: list[str]) -> set[str]:
        """Which of `keys` were sent."""
        if not keys:
            return set()
        rows = self.sink.query(self._sql(
            "SELECT notification_key FROM {db}.notifications_sent FINAL "
            "WHERE notification_key IN {keys:Array(String)} AND status = 'sent'"),
            {"keys": keys}).rows
        return {r[0] for r in rows}


def _naive(value: dt.datetime | None) -> dt.datetime:
    if value is None:
        return dt.datetime(1970, 1, 1)
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
