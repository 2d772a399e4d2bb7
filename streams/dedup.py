"""The dedup window of one tenant on one `activities` partition.

It holds the event ids accepted since (watermark - lateness), where the watermark is the
tenant's latest accepted event time there. An older event (history loaded into a running
pipeline) is checked against ClickHouse instead (streams/recording.py `load_stored`), so every
event_id counts exactly once whatever its age. The window is memory only; after a restart or
rebalance it is reloaded from ClickHouse (the rows themselves), so it survives.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

HOUR_MS = 3_600_000


def bucket_ms_for(lateness_ms: int) -> int:
    """Bucket width for a window of `lateness_ms`: an hour, or finer (down to a minute).

    Short windows get finer buckets, so a window never holds much more than the lateness.
    """
    return max(60_000, min(HOUR_MS, lateness_ms // 8))


class DedupWindow:
    """Event ids of one partition, bucketed by event time so old ones can be evicted cheaply."""

    def __init__(self, bucket_ms: int = HOUR_MS) -> None:
        self._bucket_ms = bucket_ms
        self._ids: set[str] = set()
        self._by_hour: dict[int, list[str]] = defaultdict(list)
        #: latest accepted event time (ms); 0 = none yet
        self.watermark = 0

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str, occurred_ms: int) -> None:
        """Remember an accepted event; the watermark moves with it."""
        self._ids.add(event_id)
        self._by_hour[occurred_ms // self._bucket_ms].append(event_id)
        if occurred_ms > self.watermark:
            self.watermark = occurred_ms

    def accept(self, event_id: str, occurred_ms: int, lateness_ms: int) -> None:
        """Remember an accepted event of any age.

        An event older than (watermark - lateness) is kept as if it were at that cutoff: it
        stays until the watermark has moved one more bucket, long after its insert is
        visible to the stored check of any batch that could hold a copy of it.
        """
        self.add(event_id, max(occurred_ms, self.watermark - lateness_ms))

    def load(self, rows: Iterable[tuple[str, int]]) -> None:
        """Add (event_id, occurred_ms) pairs, e.g. read back from ClickHouse."""
        for event_id, occurred_ms in rows:
            self.add(event_id, occurred_ms)

    def evict_before(self, cutoff_ms: int) -> int:
        """Forget ids of whole buckets entirely before cutoff; returns how many were dropped."""
        cutoff_hour = cutoff_ms // self._bucket_ms
        dropped = 0
        for hour in [h for h in self._by_hour if h < cutoff_hour]:
            ids = self._by_hour.pop(hour)
            self._ids.difference_update(ids)
            dropped += len(ids)
        return dropped
