"""The dedup window of one `activities` partition: event ids accepted since (watermark - lateness).

An event older than the window is late and is rejected before dedup could miss it, so within
the pipeline every accepted event_id counts exactly once. The window is memory only; after a
restart or rebalance it is reloaded from ClickHouse (the rows themselves), so it survives.
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

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str, occurred_ms: int) -> None:
        """Remember an accepted event."""
        self._ids.add(event_id)
        self._by_hour[occurred_ms // self._bucket_ms].append(event_id)

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
