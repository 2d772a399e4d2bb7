"""The worker's one ClickHouse sink, used from a single background thread.

The sink is synchronous (chdb has no async client), so writes run in a one-thread executor:
the event loop keeps heartbeating while a batch is inserted. A write that fails because the
engine is unreachable is retried with capped exponential back-off for as long as it takes:
offsets are only committed after the write returns, so nothing is lost and the worker does
not crash; the lag grows and is visible until ClickHouse is back.

Live work goes first: a write made under `background()` (the backfill lane) waits in the
sink thread's queue behind every live write, so a year of history loading never keeps a
live batch waiting for more than the one write in progress.

Only transient errors are retried. A block ClickHouse refuses for its content (too many
partitions, a value of the wrong type) is split by the sink, and the rows it still refuses
one by one are sent to the DLQ as `sink_rejected` with ClickHouse's reason before the write
returns (so before the offsets are committed): a bad row can neither stall the partition nor
be lost.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson

from touchline.schemas.dead_letter import DeadLetter
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkError
from touchline.sinks.rejections import Rejected

log = logging.getLogger(__name__)
T = TypeVar("T")

LIVE, BACKGROUND = 0, 1
#: the priority of the writes made in this task (and the tasks it starts)
_priority: contextvars.ContextVar[int] = contextvars.ContextVar("write_priority", default=LIVE)


class _SinkThread:
    """One thread running the sink's calls, lower priority numbers first, FIFO within one."""

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Future, Callable[..., Any], tuple]] = (
            queue.PriorityQueue())
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, priority: int, fn: Callable[..., T], *args: Any) -> Future:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="clickhouse",
                                                daemon=True)
                self._thread.start()
        future: Future = Future()
        self._queue.put((priority, next(self._order), future, fn, args))
        return future

    def _run(self) -> None:
        while True:
            _, _, future, fn, args = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the awaiting task
                future.set_exception(exc)


_thread = _SinkThread()
_sink: ClickHouseSink | None = None


@contextmanager
def background() -> Iterator[None]:
    """Writes made inside wait behind every live write (the backfill lane's)."""
    token = _priority.set(BACKGROUND)
    try:
        yield
    finally:
        _priority.reset(token)


def _in_sink_thread(fn: Callable[..., T], *args: Any) -> asyncio.Future:
    return asyncio.wrap_future(_thread.submit(_priority.get(), fn, *args))


def sink() -> ClickHouseSink:
    """The worker's sink, opened on first use from the settings."""
    global _sink
    if _sink is None:
        from touchline.settings import get_settings
        from touchline.sinks.connect import open_sink

        _sink = open_sink(get_settings())
    return _sink


async def write_once(fn: Callable[[ClickHouseSink], T]) -> T:
    """Run fn(sink) in the sink thread once; a SinkError reaches the caller (no retry)."""
    return await _in_sink_thread(fn, sink())


def _run_taking_rejected(fn: Callable[[ClickHouseSink], T],
                         sink_: ClickHouseSink) -> tuple[T, list[Rejected]]:
    try:
        return fn(sink_), sink_.take_rejected()
    except BaseException:
        sink_.take_rejected()  # the retry splits again and finds the same rows
        raise


async def dead_letter_rejected(rejected: list[Rejected]) -> None:
    """Send rows ClickHouse refused to the DLQ (reason `sink_rejected`) and wait for the acks."""
    from touchline.streams.topics import dead_letter_topic

    sends = []
    for item in rejected:
        raw = orjson.dumps(item.row, default=str)
        dead = DeadLetter.of(
            raw, "sink_rejected", f"ClickHouse refused this {item.table} row: {item.error}",
            source_topic=f"clickhouse:{item.table}", event_id=str(item.row.get("event_id") or ""),
            tenant=str(item.row.get("tenant") or ""))
        log.error("ClickHouse refused a %s row (dead-lettered): %s", item.table, item.error)
        sends.append(await dead_letter_topic.send(value=dead.model_dump_json().encode()))
    await asyncio.gather(*sends)


async def write(fn: Callable[[ClickHouseSink], T], what: str = "write") -> T:
    """Run fn(sink) in the sink thread, retrying transient errors until it succeeds."""
    delay = 0.2
    retried = False
    while True:
        try:
            result, rejected = await _in_sink_thread(_run_taking_rejected, fn, sink())
            if rejected:
                await dead_letter_rejected(rejected)
        except SinkError as exc:
            retried = True
            log.warning("ClickHouse %s failed (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        if retried:
            log.warning("ClickHouse %s succeeded again", what)
        return result


def now_ms() -> int:
    """Wall clock in epoch milliseconds."""
    return int(time.time() * 1000)
