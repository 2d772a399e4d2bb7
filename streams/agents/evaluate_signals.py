"""evaluate_signals: a timer on the leader worker, not a stream: the Coach step.

Emits: nothing.
Side effects: every SIGNALS_INTERVAL_S, evaluates the coaching signals of every tenant with a
plan (touchline.plan.signals) and writes only what changed to `signals`. Through the store or a
server it runs in the Coach process (streams/coach_process.py), never in this worker's
threads: rule queries over a year of history take seconds, a big org's signals take seconds of
Python, and the live path (inserts, freshness) must wait behind neither. Through the store its
queries also take the store's background lane, at a lower CPU priority than the live inserts
and the panels (sinks/store_server.py). On an engine opened in this process (chdb, tests) it
runs in the sink thread, behind every live write: that engine is used from one thread.
"""

from __future__ import annotations

import logging

from touchline.streams import coach_process, writer
from touchline.streams.app import app

log = logging.getLogger(__name__)

#: how often the signals are re-evaluated (seconds)
SIGNALS_INTERVAL_S = 30.0


async def evaluate_once() -> str:
    """One Coach pass; returns what it wrote, in words."""
    sink = writer.sink()
    if sink.dsn.startswith("chdb://"):
        with writer.background():
            return await writer.write(coach_process.one_pass, "signals")
    return await coach_process.run_pass(sink)


@app.timer(interval=SIGNALS_INTERVAL_S, on_leader=True)
async def evaluate_signals() -> None:  # noqa: D103
    log.info("signals: %s", await evaluate_once())
