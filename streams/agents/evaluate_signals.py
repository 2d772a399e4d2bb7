"""evaluate_signals: a timer on the leader worker, not a stream: the Coach step.

Emits: nothing.
Side effects: every SIGNALS_INTERVAL_S, evaluates the coaching signals of every tenant with a
plan (touchline.plan.signals) and writes only what changed to `signals`. Through the store or a
server it runs in a thread of its own, never in the sink thread that makes the rows durable:
rule queries over a year of history take seconds, and inserts (live freshness) must not wait
behind them. Through the store its queries also take the store's background lane, at a lower
CPU priority than the live inserts and the panels (sinks/store_server.py). On an engine opened
in this process (chdb, tests) it runs in the sink thread, behind every live write: that engine
is used from one thread.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkError
from touchline.sinks.store_client import background_dsn
from touchline.streams import writer
from touchline.streams.app import app

log = logging.getLogger(__name__)

#: how often the signals are re-evaluated (seconds)
SIGNALS_INTERVAL_S = 30.0
_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signals")
_coach_sink: ClickHouseSink | None = None


def _background_sink(live: ClickHouseSink) -> ClickHouseSink:
    """The Coach pass's own sink: the live sink's store, on its background lane."""
    global _coach_sink
    if _coach_sink is None:
        _coach_sink = ClickHouseSink(background_dsn(live.dsn), live.database).start()
    return _coach_sink


def _evaluate(sink: ClickHouseSink) -> str:
    from touchline.plan.signals import evaluate_and_reconcile

    try:
        return str(evaluate_and_reconcile(sink))
    except SinkError as exc:  # a query bug or an outage: the next pass tries again
        log.error("signal evaluation failed: %s", exc)
        return f"failed: {exc}"


async def evaluate_once() -> str:
    """One Coach pass; returns what it wrote, in words."""
    sink = writer.sink()
    if sink.dsn.startswith("chdb://"):
        with writer.background():
            return await writer.write(_evaluate, "signals")
    if sink.dsn.startswith("store://"):
        sink = _background_sink(sink)
    return await asyncio.get_running_loop().run_in_executor(_thread, _evaluate, sink)


@app.timer(interval=SIGNALS_INTERVAL_S, on_leader=True)
async def evaluate_signals() -> None:  # noqa: D103
    log.info("signals: %s", await evaluate_once())
