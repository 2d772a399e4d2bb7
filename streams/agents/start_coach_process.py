"""start_coach_process: a task on every worker at start, not a stream: the Coach process, early.

Emits: nothing.
Side effects: on the worker that leads the group within the first Coach pass interval, starts
the Coach process (streams/coach_process.py) before the first Coach pass, so that its start
(a new interpreter and its imports, ~0.6 s of CPU) is not added to that pass. Checked every
LEADER_CHECK_S; a worker that becomes the leader later (a rebalance) starts it at its first
pass. With an engine opened in the worker (chdb) there is no Coach process to start.
"""

from __future__ import annotations

import asyncio

from touchline.streams import coach_process, writer
from touchline.streams.agents.evaluate_signals import interval_s
from touchline.streams.app import app

#: how often a starting worker asks whether it leads
LEADER_CHECK_S = 5.0


@app.task
async def start_coach_process() -> None:  # noqa: D103
    for _ in range(int(interval_s() // LEADER_CHECK_S) - 1):
        await asyncio.sleep(LEADER_CHECK_S)
        if app.is_leader():
            if not writer.sink().dsn.startswith("chdb://"):
                await coach_process.start()
            return
