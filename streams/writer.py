"""The worker's one ClickHouse sink, used from a single background thread.

The sink is synchronous (chdb has no async client), so writes run in a one-thread executor:
the event loop keeps heartbeating while a batch is inserted. A write that fails because the
engine is unreachable is retried with capped exponential back-off for as long as it takes:
offsets are only committed after the write returns, so nothing is lost and the worker does
not crash; the lag grows and is visible until ClickHouse is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkError

log = logging.getLogger(__name__)
T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
_sink: ClickHouseSink | None = None
#: seconds the last write spent waiting for ClickHouse to come back (ops can read it)
state: dict[str, Any] = {"retrying": False, "last_error": "", "retries": 0}


def sink() -> ClickHouseSink:
    """The worker's sink, opened on first use from the settings."""
    global _sink
    if _sink is None:
        from touchline.connect import open_sink
        from touchline.settings import get_settings

        _sink = open_sink(get_settings())
    return _sink


async def write_once(fn: Callable[[ClickHouseSink], T]) -> T:
    """Run fn(sink) in the sink thread once; a SinkError reaches the caller (no retry)."""
    return await asyncio.get_running_loop().run_in_executor(_executor, fn, sink())


async def write(fn: Callable[[ClickHouseSink], T], what: str = "write") -> T:
    """Run fn(sink) in the sink thread, retrying until it succeeds."""
    delay = 0.2
    while True:
        try:
            result = await write_once(fn)
        except SinkError as exc:
            state.update(retrying=True, last_error=str(exc)[:300])
            state["retries"] += 1
            log.warning("ClickHouse %s failed (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        if state["retrying"]:
            log.warning("ClickHouse %s succeeded again", what)
            state["retrying"] = False
        return result


def close() -> None:
    """Close the sink (worker shutdown)."""
    global _sink
    if _sink is not None:
        _sink.close()
        _sink = None


def now_ms() -> int:
    """Wall clock in epoch milliseconds."""
    return int(time.time() * 1000)
