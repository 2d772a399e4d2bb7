"""Bounds of the public webhook edge: requests per client, and Twilio callback replays.

- `ClientSlots`: requests of one client address in progress at once. With the body receive
  timeout (server.py), a client that opens many connections and stalls mid-body holds at most
  `max_requests_per_client` of them, for at most `body_timeout_s`.
- `ReplayCache`: Twilio signs a callback's URL and parameters but no time, so a captured
  callback stays valid forever. Callbacks stored within the horizon are remembered by
  signature and URL: an identical one (Twilio's own retry, or a replay) is answered 200 and not
  stored again. A callback without a `Timestamp` parameter is dated by its arrival, so the
  pipeline's event-id dedup (which works in event time) cannot see a late replay of it; the
  horizon is longer than the pipeline's dedup span. A dated callback replayed later keeps its
  original time and event id and is deduplicated by the pipeline at any age.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, OrderedDict


class ClientSlots:
    """Requests in progress per client address."""

    def __init__(self, limit: int) -> None:
        """At most `limit` requests of one address at once."""
        self.limit = limit
        self._busy: Counter[str] = Counter()

    def take(self, client: str) -> bool:
        """Take a slot for `client`; False when it already has `limit` requests in progress."""
        if self._busy[client] >= self.limit:
            return False
        self._busy[client] += 1
        return True

    def give_back(self, client: str) -> None:
        """Release a slot taken by `take`."""
        self._busy[client] -= 1
        if self._busy[client] <= 0:
            del self._busy[client]


class ReplayCache:
    """Keys seen within `window_s`, at most `size` of them (oldest forgotten first)."""

    def __init__(self, window_s: float, size: int) -> None:
        """Remember keys for `window_s` seconds, `size` keys at most."""
        self.window_s, self.size = window_s, size
        self._seen: OrderedDict[str, float] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._seen:
            key, at = next(iter(self._seen.items()))
            if now - at < self.window_s and len(self._seen) <= self.size:
                return
            del self._seen[key]

    def seen(self, key: str, now: float | None = None) -> bool:
        """True when `key` was added within the window."""
        now = time.time() if now is None else now
        self._expire(now)
        return key in self._seen

    def add(self, key: str, now: float | None = None) -> None:
        """Remember `key` (a callback stored just now)."""
        now = time.time() if now is None else now
        self._seen[key] = now
        self._seen.move_to_end(key)
        self._expire(now)


def replay_key(signature: str, url: str) -> str:
    """A short key for one signed callback (its signature covers the URL and every param)."""
    return hashlib.blake2b(f"{signature} {url}".encode(), digest_size=16).hexdigest()
