"""Never commit past a message no agent processed, and fetch again a message Faust lost.

Defects of faust-streaming 0.15.3, found by the SIGKILL fault tests; upstream
faust-streaming/faust#606 (https://github.com/faust-streaming/faust/issues/606), fix proposed
in faust-streaming/faust#707. Why and what it cost: docs/decisions/0007-commit-guard.md.

- A fetched message can fail to reach the agent. Seen: right after a `take()` batch that
  filled up, the next message of several partitions never arrived while the ones after it did.
- Faust then records the hole as a "gap" in the partition (as a compacted topic would have)
  and commits over it; and even without a recorded gap, `Consumer._new_offset` commits past a
  hole of exactly one message (`min(acked) - committed > 1`, where the committed offset is the
  *next* offset to read). Either way the events were never recorded, and a restart did not
  read them again.

`install` replaces the rule: while the committed offset is known, nothing is committed until
the message at that offset was acknowledged. touchline's topics are neither compacted nor
transactional, so a hole is never legitimate, with one exception: messages the broker deleted
(retention) before they were read. `seek_stalled` (every second, from
streams/agents/refetch_stalled.py) is the recovery: a partition whose committed offset has not
moved for `STALL_SECONDS` while later offsets were acknowledged, and whose next message is not
in work, is sought back to its committed offset (a lost last message: `TAIL_STALL_SECONDS`
with nothing in work); the lost message is fetched again and the ones after
it are read again and dropped as duplicates. If the committed offset is below the broker's
first offset, the messages are gone: the partition moves on from the first one there, with a
warning that names how many expired unread.

The patch replaces a private method of faust-streaming, so `install` first checks that the
installed version is `FAUST_VERSION` and refuses to start on any other
(streams/library_patch.py). Delete this module and streams/agents/refetch_stalled.py once a
faust-streaming release fixes #606.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from touchline.streams.library_patch import require

log = logging.getLogger(__name__)

#: the faust-streaming release whose `Consumer._new_offset` this replaces (pyproject.toml pin)
FAUST_VERSION = "0.15.3"
#: the upstream defect; when a release fixes it, this module goes
UPSTREAM = "faust-streaming/faust#606 (fix proposed in faust-streaming/faust#707)"

#: how long a partition's commit may stand still while later offsets were acknowledged
STALL_SECONDS = 5.0
#: how long it may stand still with nothing acknowledged or in work, the broker having more
TAIL_STALL_SECONDS = 30.0

#: (topic, partition) -> (committed offset, monotonic time it was first seen)
_seen: dict[tuple[str, int], tuple[int, float]] = {}
#: (topic, partition) -> the broker's first offset, when messages below it expired unread
_expired_below: dict[tuple[str, int], int] = {}


def check_version() -> None:
    """Refuse to run on a faust-streaming other than the one this patch was written for.

    Raises:
        PatchedVersionMismatch: one line naming both versions and the upstream issue.
    """
    require("faust-streaming", FAUST_VERSION, "streams/commit_guard.py", UPSTREAM)


def install() -> None:
    """Patch Faust's commit rule once per process, after checking its version."""
    check_version()
    from faust.transport.consumer import Consumer

    if getattr(Consumer, "_touchline_commit_guard", False):
        return
    original = Consumer._new_offset

    def _new_offset(self: Any, tp: Any) -> int | None:
        self._gap.pop(tp, None)  # a hole in our topics is a lost message, never a gap
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        if acked and committed is not None:
            first = _expired_below.get((tp.topic, tp.partition))
            if first is not None and committed < first <= min(acked):
                self._committed_offset[tp] = committed = first  # nothing left below it
            if min(acked) > committed:
                return None  # offset `committed` itself has not been processed yet
        return original(self, tp)

    _new_offset.faust_rule = original  # type: ignore[attr-defined]  # kept for the tests
    Consumer._new_offset = _new_offset
    Consumer._touchline_commit_guard = True


def stalled(consumer: Any, tp: Any, now: float) -> int | None:
    """The committed offset to seek `tp` back to, if it is stalled; None otherwise.

    The sign of a lost message: later offsets of the partition were acknowledged (one agent
    acknowledges a partition's messages in order) while the committed one was not, for
    `STALL_SECONDS`, and it is not in work. A lost *last* message leaves no later
    acknowledgement: then the partition must have had nothing at all in work for
    `TAIL_STALL_SECONDS` while the broker has more (a busy worker's queue can hold a
    partition's next messages for a while, untracked, without anything being lost).
    """
    committed = consumer._committed_offset.get(tp)
    highwater = consumer.highwater(tp)
    key = (tp.topic, tp.partition)
    if committed is None or highwater is None or committed >= highwater:
        _seen.pop(key, None)
        return None
    first = _seen.get(key)
    if first is None or first[0] != committed:
        _seen[key] = (committed, now)
        return None
    acked = consumer._acked.get(tp) or ()
    skipped = bool(acked) and min(acked) > committed
    if now - first[1] < (STALL_SECONDS if skipped else TAIL_STALL_SECONDS):
        return None
    in_work = [m for m in list(consumer._unacked_messages) if m.tp == tp and not m.acked]
    if any(m.offset == committed for m in in_work) or (in_work and not skipped):
        return None
    _seen[key] = (committed, now)  # the next seek, if needed, after another full wait
    return committed


async def seek_stalled(app: Any) -> list[tuple[Any, int]]:
    """Seek every stalled partition the agents consume back to where processing stopped.

    Table changelogs are left alone: Faust reads them itself and commits nothing there.
    """
    consumer = app.consumer
    now = time.monotonic()
    sought = []
    for tp in sorted(consumer.assignment()):
        if tp.topic.endswith("-changelog") or app.rebalancing:
            continue
        offset = stalled(consumer, tp, now)
        if offset is None:
            continue
        first = (await consumer.earliest_offsets(tp)).get(tp) or 0
        if offset < first:
            _expired_below[(tp.topic, tp.partition)] = first
            log.warning("%s[%d]: %d messages (offsets %d-%d) expired in the broker before "
                        "they were processed (topic retention); going on from offset %d",
                        tp.topic, tp.partition, first - offset, offset, first - 1, first)
            offset = first
        else:
            log.warning("%s[%d]: offset %d was fetched but never processed (the commit "
                        "stood still while the broker had more); reading the partition again "
                        "from there", tp.topic, tp.partition, offset)
        await consumer.seek(tp, offset)
        sought.append((tp, offset))
    return sought
