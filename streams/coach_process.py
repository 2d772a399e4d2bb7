"""The Coach pass in a process of its own: its Python never takes the live path's interpreter.

A pass turns each rule view's rows into signals and reconciles them with the stored ones. Over
a planned org of 10M activities (30,816 signals) that is ~1.5 s of Python per pass. Run in a
thread of the worker, it held the interpreter lock that the event loop, Faust's consumer
thread and the sink thread share: the loop stalled up to 74 ms at a time, 1.3 s in all per
pass (docs/performance.md). So the leader runs its passes in one process started for them
(spawned once, reused), at nice 10 like the pass's queries on the store's background lane.
The process dies with its worker (PR_SET_PDEATHSIG). If it has died in between (killed, out
of memory), the pass starts a new one; a pass that ends its process twice is reported as
failed, and the next pass starts afresh.

An engine opened in the worker itself (chdb://, tests) cannot be shared with another process:
there the agent runs `one_pass` in the sink thread (streams/agents/evaluate_signals.py).
This module imports neither the Faust app nor the agents, so the Coach process does not either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from touchline.parent_death import die_with_parent
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkError
from touchline.sinks.reader_pool import BACKGROUND_NICE
from touchline.sinks.store_client import background_dsn

log = logging.getLogger(__name__)

_pool: ProcessPoolExecutor | None = None
_pid: int | None = None
#: in the Coach process: the sink its passes use, opened by the first
_sink: ClickHouseSink | None = None


def one_pass(sink: ClickHouseSink, number: int | None = None) -> str:
    """Coach pass `number` on `sink`; what it wrote, in words (a failure too: it is retried).

    The rules it judges: touchline.plan.rules `judged_on_pass` (None: every rule).
    """
    from touchline.plan.rules import RULES, judged_on_pass
    from touchline.plan.signals import evaluate_and_reconcile

    judged = RULES if number is None else judged_on_pass(number)
    try:
        return str(evaluate_and_reconcile(sink, judged=judged))
    except SinkError as exc:  # a query bug or an outage: the next pass tries again
        log.error("signal evaluation failed: %s", exc)
        return f"failed: {exc}"


def coach_sink(live: ClickHouseSink) -> ClickHouseSink:
    """The sink a Coach process opens: the worker's, on the store's background lane if a store."""
    return live.copy(background_dsn(live.dsn) if live.dsn.startswith("store://") else None)


def _start(worker: int) -> None:
    """The Coach process's first step: below the live path's priority, and gone with `worker`."""
    die_with_parent(signal.SIGKILL, worker)
    os.nice(BACKGROUND_NICE)


def _pass_here(sink: ClickHouseSink, number: int | None) -> tuple[int, str]:
    """In the Coach process: pass `number` on `sink` (opened once, kept); (pid, what it wrote)."""
    global _sink
    if _sink is None or _sink.dsn != sink.dsn:
        if _sink is not None:
            _sink.close()
        _sink = sink.start()
    return os.getpid(), one_pass(_sink, number)


def _ready_here() -> int:
    """In the Coach process: import what a pass needs; this pid."""
    import touchline.plan.signals  # noqa: F401

    return os.getpid()


async def start() -> None:
    """Start the Coach process now, so that its start (~0.6 s of CPU) is not the first pass's."""
    global _pool, _pid
    try:
        _pid = await asyncio.get_running_loop().run_in_executor(_process_pool(), _ready_here)
    except BrokenProcessPool:
        _pool = None  # the first pass starts one


def _process_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=1, initializer=_start, initargs=(os.getpid(),),
                                    mp_context=multiprocessing.get_context("spawn"))
    return _pool


def coach_pid() -> int | None:
    """The pid of the Coach process that ran the last pass (None before the first)."""
    return _pid


async def run_pass(live: ClickHouseSink, number: int | None = None) -> str:
    """Coach pass `number` (None: every rule) in the Coach process, on the worker's `live` sink."""
    global _pool, _pid
    for attempt in (1, 2):
        try:
            _pid, done = await asyncio.get_running_loop().run_in_executor(
                _process_pool(), _pass_here, coach_sink(live), number)
            return done
        except BrokenProcessPool as exc:
            _pool = None  # a new process for the next attempt
            if attempt == 2:
                return f"failed: the Coach process ended ({exc})"
            log.warning("the Coach process had ended; starting a new one")
    raise AssertionError("unreachable")


def stop() -> None:
    """End the Coach process now (a pass running in it is cut; the next pass starts another)."""
    global _pool
    pool, _pool = _pool, None
    if pool is None:
        return
    if _pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(_pid, signal.SIGKILL)
    pool.shutdown(wait=False, cancel_futures=True)
