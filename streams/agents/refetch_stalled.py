"""refetch_stalled: a timer, not a stream: every second, reads again a message Faust lost.

Emits: nothing.
Side effects: seeks a partition an agent consumes (raw, vendor webhook, activities, DLQ) back
to its committed offset when that offset has stood still for a while although the broker has
more and no agent is processing it (streams/commit_guard.py says why this happens).
"""

from __future__ import annotations

from touchline.streams import commit_guard
from touchline.streams.app import app


@app.timer(interval=1.0)
async def refetch_stalled() -> None:  # noqa: D103
    await commit_guard.seek_stalled(app)
