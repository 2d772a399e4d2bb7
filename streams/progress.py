"""In-process counters of one worker, flushed to `pipeline_metrics` by report_progress."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

#: (topic, partition) -> counter name -> value, since the last flush
pending: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
#: (topic, partition) -> last processed offset + 1
positions: dict[tuple[str, int], int] = {}
#: (topic, partition) -> highest event time seen (ms)
event_time: dict[tuple[str, int], int] = {}
totals: dict[str, int] = defaultdict(int)


def count_validated(events: Sequence[Any], out: Any) -> None:
    """Record a validate_activity batch."""
    for event in events:
        tp = (event.message.topic, event.message.partition)
        pending[tp]["messages"] += 1
        positions[tp] = max(positions.get(tp, 0), event.message.offset + 1)
    if events:
        tp = (events[-1].message.topic, events[-1].message.partition)
        pending[tp]["events_in"] += out.events_in
        pending[tp]["rejected"] += len(out.dead_letters)
    totals["raw_events"] += out.events_in
    totals["rejected"] += len(out.dead_letters)


def count_recorded(topic: str, partition: int, offset: int, *, events_in: int, accepted: int,
                   duplicates: int, rejected: int, max_event_ms: int) -> None:
    """Record one record_activities message."""
    tp = (topic, partition)
    counters = pending[tp]
    counters["messages"] += 1
    counters["events_in"] += events_in
    counters["accepted"] += accepted
    counters["duplicates"] += duplicates
    counters["rejected"] += rejected
    positions[tp] = offset + 1
    event_time[tp] = max(event_time.get(tp, 0), max_event_ms)
    totals["accepted"] += accepted
    totals["duplicates"] += duplicates
    totals["late"] += rejected


def drain() -> dict[tuple[str, int], dict[str, int]]:
    """Take the counters gathered since the last call."""
    taken = {tp: dict(c) for tp, c in pending.items()}
    pending.clear()
    return taken
