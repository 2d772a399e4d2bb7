"""Identical reads in flight share one run, as long as no write was answered since it began.

Viewers who open the same dashboard together (a wall screen and the team's laptops, a morning
stand-up) send the same panel SQL within the same second, and Grafana's alert rules ask again
what a panel just asked. The store runs such a read once: a read that arrives while the same
text with the same parameters is running gets that run's answer. It is the answer it would
have got on its own, because the store counts the writes it has answered (inserts and DDL) and
a read joins only a run begun after the last of them: whatever a client was told is written
before it asked, the shared run sees too. A read never waits for a run begun before that.

A run that fails fails every read that joined it. A client that goes away does not cancel the
run for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class SharedReads:
    """Runs of reads in flight, by (writes answered so far, what the read asks)."""

    def __init__(self) -> None:
        self._writes = 0
        self._running: dict[tuple[int, Hashable], asyncio.Future] = {}

    def wrote(self) -> None:
        """A write was answered (or failed): reads from now on do not join earlier runs."""
        self._writes += 1

    async def run(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The answer to the read `key`, and whether it came from a run already going."""
        slot = (self._writes, key)
        running = self._running.get(slot)
        if running is not None:
            return await asyncio.shield(running), True
        task = asyncio.ensure_future(start())
        self._running[slot] = task
        task.add_done_callback(lambda _done: self._running.pop(slot, None))
        return await asyncio.shield(task), False
