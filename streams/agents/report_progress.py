"""report_progress: a timer, not a stream: every second, the worker's counters and lag.

Emits: nothing.
Side effects: one `pipeline_metrics` row per (topic, partition) this worker is assigned or
touched, with messages/events since the last report, position, highwater and lag (ops
dashboard, demo).
While ClickHouse is away the rows of every second are kept (the newest MAX_UNSENT_ROWS) and
written together once it is back, so the ops panels show the lag that built up during the
outage, not only the lag after it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from touchline.settings import get_settings
from touchline.sinks.errors import SinkError
from touchline.sinks.rows import METRIC_COLUMNS, arrow_table
from touchline.streams import progress, writer
from touchline.streams.app import app

#: ~3 h of rows for 4 partitions and two topics; older ones are dropped first
MAX_UNSENT_ROWS = 100_000
#: how long a report waits for the broker's end offsets before it uses the consumer's own
HIGHWATERS_TIMEOUT_S = 2.0
#: the broker's answer being waited for, if any (`_highwaters`)
_asking: asyncio.Future | None = None
#: rows not written yet, oldest first
unsent: list[dict[str, Any]] = []


def _assigned() -> dict[tuple[str, int], int | None]:
    """(topic, partition) -> committed offset (None: not known) of each partition assigned now.

    Faust's own topics (table changelogs, the assignor's leader topic) are left out.
    """
    try:
        consumer = app.consumer
        return {(tp.topic, tp.partition): consumer._committed_offset.get(tp)
                for tp in consumer.assignment()
                if not tp.topic.endswith("-changelog") and "__assignor" not in tp.topic}
    except Exception:  # consumer not started yet
        return {}


async def _highwaters(partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The broker's end offset of each partition (the offset its next message will get).

    Asked of the broker every report: the consumer learns a partition's highwater only from
    its own fetches, so it has none for a partition assigned and not fetched yet (one a dead
    worker left behind, one paused while Faust recovers its tables) and an old one for a
    partition paused since; either read as lag 0 exactly when a backlog waits. Where the
    broker does not answer in time, what the consumer last saw is used; one question is out at
    a time, so a broker that is away does not pile questions up in the consumer's thread.
    """
    from faust.types import TP

    global _asking
    consumer = app.consumer
    tps = [TP(topic, partition) for topic, partition in partitions]
    ends: Any = {}
    try:
        if _asking is None or _asking.done():
            _asking = asyncio.ensure_future(consumer.highwaters(*tps))
        ends = await asyncio.wait_for(asyncio.shield(_asking), HIGHWATERS_TIMEOUT_S)
    except Exception:  # the broker or the consumer away: the consumer's last fetch says
        pass
    out = {}
    for tp in tps:
        try:
            end = ends.get(tp)
            out[(tp.topic, tp.partition)] = int(end if end is not None
                                                else consumer.highwater(tp) or 0)
        except Exception:  # consumer not started, or the partition not assigned
            out[(tp.topic, tp.partition)] = 0
    return out


def progress_rows(worker: str, now: int, counters: dict, assigned: dict,
                  highwaters: dict) -> list[dict[str, Any]]:
    """One row per partition assigned to this worker or counted since the last report.

    A partition assigned but not processed yet reports lag from its committed offset (from 0
    when none is known), so a partition a dead worker left behind shows its backlog as soon as
    it is reassigned. A partition revoked since is no longer reported (its old position would
    be a false lag).
    """
    rows = []
    for topic, partition in sorted(set(assigned) | set(counters)):
        tp = (topic, partition)
        counts = counters.get(tp, {})
        highwater = highwaters.get(tp, 0)
        known = [o for o in (progress.positions.get(tp), assigned.get(tp)) if o is not None]
        if known:
            position = max(known)
        elif tp in assigned:  # nothing processed or committed (Faust keeps offset 0 as None)
            position = 0
        else:  # a stage fed only from the raw topic has no position of its own: no lag there
            position = highwater
        rows.append({
            "ts": now, "worker": worker, "topic": topic, "partition": partition,
            "messages": counts.get("messages", 0), "events_in": counts.get("events_in", 0),
            "accepted": counts.get("accepted", 0), "duplicates": counts.get("duplicates", 0),
            "rejected": counts.get("rejected", 0), "committed": position,
            "highwater": highwater, "lag": max(highwater - position, 0),
            "max_event_time": progress.event_time.get(tp, 0),
        })
    return rows


@app.timer(interval=1.0)
async def report_progress() -> None:  # noqa: D103
    assigned, counters = _assigned(), progress.drain()
    highwaters = await _highwaters(sorted(set(assigned) | set(counters)))
    rows = progress_rows(get_settings().worker_id, writer.now_ms(), counters, assigned,
                         highwaters)
    unsent.extend(rows)
    del unsent[:-MAX_UNSENT_ROWS]
    if not unsent:
        return
    table = arrow_table(unsent, METRIC_COLUMNS)
    sent = len(unsent)
    try:
        await writer.write_once(lambda sink: sink.insert("pipeline_metrics", table))
    except SinkError:  # ClickHouse away: the agents' retries log it; try again next second
        return
    del unsent[:sent]
