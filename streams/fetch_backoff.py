"""Wait a moment after an empty fetch, as a Kafka broker's long poll would.

A Kafka broker holds a fetch that finds no data for up to `fetch.max.wait.ms` (Faust asks for
1.5 s). noida-db, the embedded broker, answers at once, and aiokafka then fetches again
immediately: an idle worker spun at ~0.85 of a core (measured with a plain aiokafka consumer on
an empty topic). After a fetch that brought nothing, the fetch task now sleeps
`kafka.empty_fetch_backoff_ms` before the next fetch to that broker is sent. With a real
broker the fetch itself already waited, so the extra pause only adds that much latency to the
first message after an idle spell; set it to 0 to turn it off. The broker-semantics tests run
on Apache Kafka with it off (tests/harness.py `KAFKA`, docs/brokers.md).

How long a broker may hold a fetch is the other half of the same pacing. Faust asks for 1.5 s
(`fetch_max_wait_ms=1500`, hard-coded in its consumer), and aiokafka sends one fetch at a time
to a broker. While the worker still holds fetched records of a partition, aiokafka's next fetch
(after 0.1 s) names only the other partitions; when those have nothing new, Kafka holds it for
the whole 1.5 s, and the partitions the worker has just finished wait behind it. Once the worker
had fallen behind (a Coach pass), it stayed there: one big batch every ~2 s, freshness 2-3 s at
half the worker's maximum rate, for good (docs/performance.md, 2026-12-06 12:02). Every fetcher
of the process now asks for `kafka.fetch_max_wait_ms` (100 ms) instead: an idle worker sends
~10 empty fetches a second to Kafka, and a partition waits at most that long. noida-db answers
at once either way.

The patch wraps private methods of aiokafka, so `install` first checks that the installed
version is `AIOKAFKA_VERSION` and refuses to start on any other (streams/library_patch.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from touchline.streams.library_patch import require

#: the aiokafka release whose `Fetcher.__init__` and `_proc_fetch_request` this wraps (the pin)
AIOKAFKA_VERSION = "0.14.0"
#: why the patch exists: not an aiokafka defect, the embedded broker's instant empty answers
#: and the fetch wait Faust asks for
REASON = ("noida-db answering empty fetches at once, and Faust's 1.5 s fetch wait (this "
          "module's docstring)")


@dataclass
class _Pacing:
    """What `install` last set: the pause after an empty fetch, the max wait of a fetch."""

    seconds: float = 0.0
    max_wait_ms: int | None = None


_pacing = _Pacing()


def check_version() -> None:
    """Refuse to run on an aiokafka other than the one this patch was written for.

    Raises:
        PatchedVersionMismatch: one line naming both versions.
    """
    require("aiokafka", AIOKAFKA_VERSION, "streams/fetch_backoff.py", REASON)


def install(seconds: float, max_wait_ms: int | None) -> None:
    """Patch aiokafka's fetcher once per process; later calls only change the two values.

    Args:
        seconds: the pause after a fetch that brought nothing (0: none).
        max_wait_ms: how long a broker may hold a fetch, for fetchers created afterwards
            (None: what the consumer was created with).
    """
    check_version()
    from aiokafka.consumer.fetcher import Fetcher

    _pacing.seconds, _pacing.max_wait_ms = seconds, max_wait_ms
    if getattr(Fetcher, "_touchline_backoff", False):
        return
    original = Fetcher._proc_fetch_request
    original_init = Fetcher.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if _pacing.max_wait_ms is not None:  # the max wait of every FetchRequest it sends
            self._fetch_max_wait_ms = _pacing.max_wait_ms

    async def _proc_fetch_request(self: Any, assignment: Any, node_id: Any,
                                  request: Any) -> bool:
        has_data = await original(self, assignment, node_id, request)
        if not has_data and _pacing.seconds > 0:
            try:
                await asyncio.sleep(_pacing.seconds)  # the node stays "in flight" meanwhile
            except asyncio.CancelledError:  # close or unassignment: as aiokafka's own fetch
                return False
        return has_data

    Fetcher.__init__ = __init__
    Fetcher._proc_fetch_request = _proc_fetch_request
    Fetcher._touchline_backoff = True
