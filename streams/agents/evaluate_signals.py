"""evaluate_signals: a timer on the leader worker, not a stream: the Coach step.

Emits: nothing.
Side effects: every `pipeline.coach_interval_s` (30 s by default), evaluates the coaching
signals of every tenant with a plan (touchline.plan.signals) and writes only what changed to
`signals`. Each pass judges the speed-to-lead rule and one of the other six in turn
(touchline.plan.rules `judged_on_pass`): each of those every 6 passes. Through the store or a
server it runs in the Coach process (streams/coach_process.py), never in this worker's threads:
rule queries over a year of history take seconds, a big org's signals take seconds of Python,
and the live path (inserts, freshness) must wait behind neither. Through the store its queries
also take the store's background lane, at a lower CPU priority than the live inserts and the
panels (sinks/store_server.py). On an engine opened in this process (chdb, tests) it runs in the
sink thread, behind every live write: that engine is used from one thread.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from touchline.plan.rules import judged_on_pass
from touchline.streams import coach_process, writer
from touchline.streams.app import app

log = logging.getLogger(__name__)


async def evaluate_once(number: int | None = None) -> str:
    """Coach pass `number` (None: every rule); returns what it wrote, in words."""
    sink = writer.sink()
    if sink.dsn.startswith("chdb://"):
        with writer.background():
            return await writer.write(partial(coach_process.one_pass, number=number), "signals")
    return await coach_process.run_pass(sink, number)


def interval_s() -> float:
    """How often a pass runs: the setting, read when the worker starts (not at import)."""
    from touchline.settings import get_settings

    return get_settings().pipeline.coach_interval_s


@app.task
async def evaluate_signals() -> None:
    """A pass every `interval_s()` on the leader (Faust's `app.timer`, its interval a setting)."""
    # the first turn follows the clock: a worker that restarts every few minutes still has
    # every rule judged in turn, not the first turns only
    number = int(time.time() // interval_s())
    async for _ in app.itertimer(interval_s(), name="evaluate_signals"):
        if app.is_leader():
            kinds = ", ".join(r.kind for r in judged_on_pass(number))
            log.info("signals: %s (judged: %s)", await evaluate_once(number), kinds)
            number += 1
