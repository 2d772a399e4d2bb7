"""What a stuck test worker is waiting for: its asyncio tasks and Faust's consumer state.

The tests put this directory on the PYTHONPATH of the processes they start (tests/conftest.py),
so Python imports this module at start-up. Nothing happens until the process receives SIGWINCH:
then it appends to `$TASK_DUMP_DIR/<pid>.txt` Faust's consumer and recovery state (a worker) and
the await chain of every task, on the main event loop and on each thread's loop (Faust runs
aiokafka on a loop of its own). asyncio's own task stacks stop at the outermost coroutine; the
chain here follows each `await` down to the future a task is parked on. `Pipeline.wait_until`
asks for one when a wait times out and adds it to the failure (tests/harness.py).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import types
from typing import Any, TextIO

_AWAITABLES = (types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType)


def _frame(obj: Any) -> Any:
    return (getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
            or getattr(obj, "ag_frame", None))


def _awaited(obj: Any) -> Any:
    return (getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
            or getattr(obj, "ag_await", None))


def await_chain(coro: Any, depth: int = 60) -> list[str]:
    """file:line function of each coroutine a task awaits through, then what it is parked on."""
    lines = []
    for _ in range(depth):
        frame = _frame(coro)
        if frame is not None:
            lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
            nxt = _awaited(coro)
        else:  # an object whose __await__ wraps a coroutine, or the future itself
            inner = [o for o in gc.get_referents(coro) if isinstance(o, _AWAITABLES)]
            if not inner:
                lines.append(f"    parked on {coro!r}"[:200])
                break
            nxt = inner[0]
        if nxt is None:
            break
        coro = nxt
    return lines


def _name(tp: Any) -> str:
    return f"{tp.topic}[{tp.partition}]"


def _tps(tps: Any) -> str:
    """topic[0,1,3] per topic: short enough to read 40 partitions at a glance."""
    by_topic: dict[str, list[int]] = {}
    for tp in tps:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return " ".join(f"{topic}{sorted(parts)}" for topic, parts in sorted(by_topic.items()))


def _faust_state(out: TextIO) -> None:
    module = sys.modules.get("touchline.streams.app")
    if module is None:
        return
    app = module.app
    consumer = app.consumer
    out.write(f"faust: rebalancing={app.rebalancing} generation={app.consumer_generation_id} "
              f"flow_active={consumer.flow_active}\n")
    active = consumer._active_partitions or set()
    out.write(f"faust: assigned={_tps(consumer.assignment())}\n")
    out.write(f"faust: not active={_tps(consumer.assignment() - active)}\n")
    recovery = app.tables._recovery
    if recovery is not None:
        out.write(f"faust: in_recovery={recovery.in_recovery} "
                  f"recovery active={_tps(recovery.active_tps)}\n")
        progress = {_name(tp): (recovery.active_offsets.get(tp), highwater)
                    for tp, highwater in recovery.active_highwaters.items()}
        out.write(f"faust: recovery (offset, highwater)={progress} changelog queue="
                  f"{app.tables.changelog_queue.qsize()}\n")
    unacked = [m for m in list(consumer._unacked_messages) if not m.acked]
    by_tp: dict[str, list[int]] = {}
    for message in unacked:
        by_tp.setdefault(_name(message.tp), []).append(message.offset)
    out.write("faust: in work (count, first, last)="
              f"{ {tp: (len(v), min(v), max(v)) for tp, v in by_tp.items()} }\n")
    for what, offsets in (("committed", consumer._committed_offset),
                          ("read", consumer._read_offset)):
        known = {_name(tp): at for tp, at in offsets.items() if at is not None}
        out.write(f"faust: {what}={known}\n")
    subscription = consumer._thread._ensure_consumer()._subscription.subscription
    assignment = subscription.assignment if subscription is not None else None
    if assignment is not None:  # aiokafka's view: read from this thread, a snapshot at best
        states = {}
        for tp in assignment.tps:
            state = assignment.state_value(tp)
            states[_name(tp)] = (
                state.position if state.has_valid_position else "no position",
                "awaiting reset" if state.awaiting_reset else "",
                "paused" if state.paused else "")
        out.write(f"aiokafka: position, reset, paused={states}\n")


def dump(_signum: int = 0, _frame_: Any = None) -> None:
    """Append this process's state and task chains to its file in $TASK_DUMP_DIR."""
    import asyncio

    path = os.path.join(os.environ.get("TASK_DUMP_DIR", "."), f"{os.getpid()}.txt")
    with open(path, "a") as out:
        try:
            _faust_state(out)
        except Exception as exc:  # a worker half started or stopping: the tasks still help
            out.write(f"faust: state unreadable ({exc!r})\n")
        loops = {id(asyncio.get_event_loop()): "main"}
        for thread in threading.enumerate():
            loop = getattr(getattr(thread, "service", None), "thread_loop", None)
            if loop is not None:
                loops[id(loop)] = thread.name
        for task in list(asyncio.tasks._all_tasks):
            name = loops.get(id(task.get_loop()))
            if name is None or task.done():
                continue
            out.write(f"task {task.get_name()} (loop {name})\n")
            out.write("\n".join(await_chain(task.get_coro())) + "\n")


if os.environ.get("TASK_DUMP_DIR"):
    signal.signal(signal.SIGWINCH, dump)


if os.environ.get("TOUCHLINE_TEST_SQL_CORPUS"):  # the reads of a test run, for a replay
    import sql_corpus  # noqa: F401  (this folder, on PYTHONPATH)
