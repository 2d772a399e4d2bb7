"""In-process counters of one worker, flushed to `pipeline_metrics` by report_progress."""

from __future__ import annotations

from collections import defaultdict

#: (topic, partition) -> counter name -> value, since the last flush
pending: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
#: (topic, partition) -> last processed offset + 1
positions: dict[tuple[str, int], int] = {}
#: (topic, partition) -> highest event time seen (ms)
event_time: dict[tuple[str, int], int] = {}


def processed(tp: tuple[str, int], offset: int) -> None:
    """The message at `offset` of `tp` is done: the position is the next offset to process."""
    positions[tp] = max(positions.get(tp, 0), offset + 1)


def count_validated(topic: str, partition: int, offset: int, *, events_in: int,
                    rejected: int, messages: int = 1) -> None:
    """Record validated raw messages of one partition, the last of them at `offset`."""
    tp = (topic, partition)
    counters = pending[tp]
    counters["messages"] += messages
    counters["events_in"] += events_in
    counters["rejected"] += rejected
    processed(tp, offset)


def count_recorded(topic: str, partition: int, offset: int | None, *, events_in: int,
                   accepted: int, duplicates: int, max_event_ms: int, messages: int = 1) -> None:
    """Record recorded messages under the `activities` stage (recording rejects nothing).

    `offset` is the last message's `activities` offset, or None for rows recorded straight
    from the raw topic (their position is the raw message's, counted by `count_validated`).
    """
    tp = (topic, partition)
    counters = pending[tp]
    counters["messages"] += messages
    counters["events_in"] += events_in
    counters["accepted"] += accepted
    counters["duplicates"] += duplicates
    if offset is not None:
        positions[tp] = offset + 1
    event_time[tp] = max(event_time.get(tp, 0), max_event_ms)


def count_dead_letters(topic: str, partition: int, last_offset: int, messages: int) -> None:
    """Record `messages` DLQ envelopes of one partition written, up to `last_offset`."""
    tp = (topic, partition)
    pending[tp]["messages"] += messages
    processed(tp, last_offset)


def drain() -> dict[tuple[str, int], dict[str, int]]:
    """Take the counters gathered since the last call."""
    taken = {tp: dict(c) for tp, c in pending.items()}
    pending.clear()
    return taken
