"""refetch_stalled: a timer, not a stream: every second, reads again a message Faust lost.

Emits: nothing.
Side effects: has Faust's fetch loop seek a partition an agent consumes (raw, vendor webhook,
activities, backfill, DLQ) back to its committed offset when the message there was fetched
and never processed (streams/commit_guard.py says why this happens and how it is judged).
"""

from __future__ import annotations

from touchline.settings import get_settings
from touchline.streams import commit_guard
from touchline.streams.app import app


@app.timer(interval=1.0)
async def refetch_stalled() -> None:  # noqa: D103
    rules = get_settings().pipeline
    await commit_guard.seek_stalled(app, rules.commit_stall_s, rules.commit_tail_stall_s,
                                    rules.commit_guard_drill)
