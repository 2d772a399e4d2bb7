"""evaluate_signals: a timer on the leader worker, not a stream: the Coach step.

Emits: nothing.
Side effects: every SIGNALS_INTERVAL_S, evaluates the coaching signals of every tenant with a
plan (touchline.plan.signals) in the sink thread and writes only what changed to `signals`.
"""

from __future__ import annotations

import logging

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SqlError
from touchline.streams import writer
from touchline.streams.app import app

log = logging.getLogger(__name__)

#: how often the signals are re-evaluated (seconds)
SIGNALS_INTERVAL_S = 30.0


def _evaluate(sink: ClickHouseSink) -> str:
    from touchline.plan.signals import evaluate_and_reconcile

    try:
        return str(evaluate_and_reconcile(sink))
    except SqlError as exc:  # a query bug must not stall the writer's retry loop
        log.error("signal evaluation failed: %s", exc)
        return f"failed: {exc}"


async def evaluate_once() -> str:
    """One Coach pass in the sink thread; returns what it wrote, in words."""
    return await writer.write(_evaluate, "signals")


@app.timer(interval=SIGNALS_INTERVAL_S, on_leader=True)
async def evaluate_signals() -> None:  # noqa: D103
    log.info("signals: %s", await evaluate_once())
