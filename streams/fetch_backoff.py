"""Wait a moment after an empty fetch, as a Kafka broker's long poll would.

A Kafka broker holds a fetch that finds no data for up to `fetch.max.wait.ms` (Faust asks for
1.5 s). noida-db, the embedded broker, answers at once, and aiokafka then fetches again
immediately: an idle worker spun at ~0.85 of a core (measured with a plain aiokafka consumer on
an empty topic). After a fetch that brought nothing, the fetch task now sleeps
`kafka.empty_fetch_backoff_ms` before the next fetch to that broker is sent. With a real
broker the fetch itself already waited, so the extra pause only adds that much latency to the
first message after an idle spell; set it to 0 to turn it off. The broker-semantics tests run
on Apache Kafka with it off (tests/harness.py `KAFKA`, docs/brokers.md).

The patch wraps a private method of aiokafka, so `install` first checks that the installed
version is `AIOKAFKA_VERSION` and refuses to start on any other (streams/library_patch.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from touchline.streams.library_patch import require

#: the aiokafka release whose `Fetcher._proc_fetch_request` this wraps (pyproject.toml pin)
AIOKAFKA_VERSION = "0.14.0"
#: why the patch exists: not an aiokafka defect, the embedded broker's instant empty answers
REASON = "noida-db answering empty fetches at once (this module's docstring)"

_state: dict[str, float] = {"seconds": 0.0}


def check_version() -> None:
    """Refuse to run on an aiokafka other than the one this patch was written for.

    Raises:
        PatchedVersionMismatch: one line naming both versions.
    """
    require("aiokafka", AIOKAFKA_VERSION, "streams/fetch_backoff.py", REASON)


def install(seconds: float) -> None:
    """Patch aiokafka's fetcher once per process; later calls only change the pause."""
    check_version()
    from aiokafka.consumer.fetcher import Fetcher

    _state["seconds"] = seconds
    if getattr(Fetcher, "_touchline_backoff", False):
        return
    original = Fetcher._proc_fetch_request

    async def _proc_fetch_request(self: Any, assignment: Any, node_id: Any,
                                  request: Any) -> bool:
        has_data = await original(self, assignment, node_id, request)
        if not has_data and _state["seconds"] > 0:
            try:
                await asyncio.sleep(_state["seconds"])  # the node stays "in flight" meanwhile
            except asyncio.CancelledError:  # close or unassignment: as aiokafka's own fetch
                return False
        return has_data

    Fetcher._proc_fetch_request = _proc_fetch_request
    Fetcher._touchline_backoff = True
