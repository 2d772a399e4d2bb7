"""report_progress: a timer, not a stream: every second, the worker's counters and lag.

Emits: nothing.
Side effects: one `pipeline_metrics` row per (topic, partition) this worker touched, with
messages/events since the last report, position, highwater and lag (ops dashboard, demo).
While ClickHouse is away the rows of every second are kept (the newest MAX_UNSENT_ROWS) and
written together once it is back, so the ops panels show the lag that built up during the
outage, not only the lag after it.
"""

from __future__ import annotations

from typing import Any

from touchline.settings import get_settings
from touchline.sinks.errors import SinkError
from touchline.sinks.rows import METRIC_COLUMNS, arrow_table
from touchline.streams import progress, writer
from touchline.streams.app import app

#: ~3 h of rows for 4 partitions and two topics; older ones are dropped first
MAX_UNSENT_ROWS = 100_000
#: rows not written yet, oldest first
unsent: list[dict[str, Any]] = []


def _highwater(topic: str, partition: int) -> int:
    from faust.types import TP

    try:
        return int(app.consumer.highwater(TP(topic, partition)) or 0)
    except Exception:  # consumer not assigned yet
        return 0


@app.timer(interval=1.0)
async def report_progress() -> None:  # noqa: D103
    worker = get_settings().worker_id
    counters = progress.drain()
    now = writer.now_ms()
    rows = []
    for topic, partition in sorted(set(progress.positions) | set(counters)):
        counts = counters.get((topic, partition), {})
        highwater = _highwater(topic, partition)
        # a stage fed only from the raw topic has no position of its own: no lag there
        position = progress.positions.get((topic, partition), highwater)
        rows.append({
            "ts": now, "worker": worker, "topic": topic, "partition": partition,
            "messages": counts.get("messages", 0), "events_in": counts.get("events_in", 0),
            "accepted": counts.get("accepted", 0), "duplicates": counts.get("duplicates", 0),
            "rejected": counts.get("rejected", 0), "committed": position,
            "highwater": highwater, "lag": max(highwater - position, 0),
            "max_event_time": progress.event_time.get((topic, partition), 0),
        })
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
