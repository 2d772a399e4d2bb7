"""Which reader a panel's read waits for: cheap statement shapes never queue behind heavy ones.

A dashboard asks for all its panels at once. On the store's two reader threads a 3 ms panel
("Consumer lag") used to wait for the 500 ms ones ("Accounts going quiet") requested with it,
and answered in ~2 s when eight dashboards loaded together (docs/performance.md). So the store
keeps, per statement shape (the SQL with every number as 0, `read_guard.verdict_key`: the same
panel at every refresh and time range), how long its reads took to run, queueing left out: an
exponentially weighted mean of the wall time on the reader thread. A read whose shape is known
and ran within `QUICK_MS` goes to the quick lane, reader threads of its own; any other read
(a shape not seen yet, a heavy one, SQL typed at `touchline query`) goes to the readers as
before. A cheap shape that turns heavy (a panel set to a year) runs once on the quick lane and
its mean moves it off; the lane's threads share the CPU with the heavy reads, they do not take
it from them.

The costs live in the store process's memory: after a restart each shape runs once on the
readers before it is known. At most `SHAPES` shapes are kept, the least recently run dropped.
"""

from __future__ import annotations

from collections import OrderedDict

from touchline.sinks.read_guard import verdict_key

#: a shape whose reads ran within this many milliseconds (weighted mean) is answered quickly
QUICK_MS = 50.0
#: weight of the newest run in the mean: one heavy run moves a 3 ms shape past QUICK_MS
NEWEST_WEIGHT = 0.5
#: how many shapes are remembered
SHAPES = 4096

QUICK_LANE = "quick"
READERS_LANE = "readers"


class ReadCosts:
    """Run time per statement shape, and the lane that follows from it."""

    def __init__(self, quick_ms: float = QUICK_MS, shapes: int = SHAPES) -> None:
        self._quick_ms = quick_ms
        self._shapes = shapes
        self._mean_ms: OrderedDict[str, float] = OrderedDict()

    def lane(self, sql: str) -> str:
        """QUICK_LANE for a known shape that ran within QUICK_MS, else READERS_LANE."""
        mean = self._mean_ms.get(verdict_key(sql))
        return QUICK_LANE if mean is not None and mean <= self._quick_ms else READERS_LANE

    def record(self, sql: str, ms: float) -> None:
        """A read of `sql` ran for `ms` on its reader (queueing not included)."""
        key = verdict_key(sql)
        mean = self._mean_ms.pop(key, None)
        self._mean_ms[key] = ms if mean is None else NEWEST_WEIGHT * ms + (1 - NEWEST_WEIGHT) * mean
        if len(self._mean_ms) > self._shapes:
            self._mean_ms.popitem(last=False)
