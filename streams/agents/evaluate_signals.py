"""evaluate_signals: a timer on the leader worker, not a stream: the Coach step.

Emits: nothing.
Side effects: every `pipeline.coach_interval_s` (30 s by default), evaluates the coaching
signals of every tenant with a plan (touchline.plan.signals) and writes only what changed to
`signals`. Through the store or a server it runs in the Coach process
(streams/coach_process.py), never in this worker's threads: rule queries over a year of
history take seconds, a big org's signals take seconds of Python, and the live path (inserts,
freshness) must wait behind neither. Through the store its queries also take the store's
background lane, at a lower CPU priority than the live inserts and the panels
(sinks/store_server.py). On an engine opened in this process (chdb, tests) it
runs in the sink thread, behind every live write: that engine is used from one thread.
"""

from __future__ import annotations

import logging

from touchline.streams import coach_process, writer
from touchline.streams.app import app

log = logging.getLogger(__name__)


async def evaluate_once() -> str:
    """One Coach pass; returns what it wrote, in words."""
    sink = writer.sink()
    if sink.dsn.startswith("chdb://"):
        with writer.background():
            return await writer.write(coach_process.one_pass, "signals")
    return await coach_process.run_pass(sink)


def interval_s() -> float:
    """How often a pass runs: the setting, read when the worker starts (not at import)."""
    from touchline.settings import get_settings

    return get_settings().pipeline.coach_interval_s


@app.task
async def evaluate_signals() -> None:
    """A pass every `interval_s()` on the leader (Faust's `app.timer`, its interval a setting)."""
    async for _ in app.itertimer(interval_s(), name="evaluate_signals"):
        if app.is_leader():
            log.info("signals: %s", await evaluate_once())
