"""Read a table's changelog again when Faust's table recovery stops receiving it.

A defect seen on Apache Kafka 4.4.0, about 1 in 100 runs of the two-worker SIGKILL test
(docs/brokers.md, "Known defect"): after a rebalance, the survivor's recovery of
`stage_history_by_opportunity` waited for changelog records that never reached it. The
stream partitions stayed paused behind it, aiokafka kept fetching, the group stayed healthy,
and Faust only logged "No event received for active tp" every few seconds, for ever: nothing
in Faust reads a changelog partition again once its records have gone past. Where exactly
the records were lost is not known (between aiokafka's fetch and the recovery's queue: the
same fetch step whose lost stream messages streams/commit_guard.py reads again).

`RecoveryWatch` (started with the worker, streams/faust_worker.py) looks every second.
`stalled_partitions` judges a changelog partition stalled when recovery still needs records
of it (recovery's offset below the highwater it read at its start), no record of it arrived
for `stall_s` (none since the recovery started, or since the last one), and nothing waits in
the changelog queue. `read_again` seeks it back to the offset recovery has reached, with
Faust's own `Consumer.seek_wait`, the call Faust's recovery makes to start reading; records
read twice are skipped by the recovery (it applies an offset only once). Whatever lost the
records, a seek resets aiokafka's position and Faust's read offset for the partition and
drops anything aiokafka still buffered for it, so the records are fetched and handed over
again.

`drill` (settings.pipeline.recovery_guard_drill, tests only) reproduces the state: the first
recovery seek of each changelog partition goes to its end instead, as if every record had
been fetched and lost, so that only `read_again` can finish the recovery.

Reads Faust's `Recovery` state, so `check_version` refuses any faust-streaming other than
`FAUST_VERSION` (streams/library_patch.py runs it before the worker starts). Delete this
module once the cause is found and fixed upstream.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from mode import Service

from touchline.streams.library_patch import require

log = logging.getLogger(__name__)

#: the faust-streaming release whose `Recovery` attributes this reads (pyproject.toml pin)
FAUST_VERSION = "0.15.3"

#: TP -> when the guard last sought it back (monotonic), so it waits a whole stall_s again
_sought_at: dict[Any, float] = {}


def check_version() -> None:
    """Refuse to run on a faust-streaming other than the one this was written for.

    Raises:
        PatchedVersionMismatch: one line naming both versions.
    """
    require("faust-streaming", FAUST_VERSION, "streams/recovery_guard.py",
            "docs/brokers.md, Known defect")


def stalled_partitions(recovery: Any, queued: int, now: float, stall_s: float) -> dict[Any, int]:
    """Changelog partitions whose recovery is stalled, with the offset to read them from.

    Args:
        recovery: Faust's `Recovery` service (`app.tables._recovery`).
        queued: changelog events waiting for the recovery (`app.tables.changelog_queue`).
        now: `time.monotonic()`, the clock Faust's recovery stamps events with.
        stall_s: how long no record of a partition may arrive while it has more to read.
    """
    started = recovery._recovery_started_at
    if not recovery.in_recovery or started is None or queued:
        return {}
    received = recovery._active_events_received_at
    stalled = {}
    for tp in list(recovery.active_tps):
        highwater, offset = recovery.active_highwaters.get(tp), recovery.active_offsets.get(tp)
        if highwater is None or offset is None or offset >= highwater:
            continue  # read to its end (Faust's highwater is the last offset, not the next)
        quiet_since = max(received.get(tp, started), _sought_at.get(tp, started))
        if now - quiet_since >= stall_s:
            stalled[tp] = max(offset, 0)  # recovery's own seek reads from there too
    return stalled


async def read_again(app: Any, stall_s: float) -> dict[Any, int]:
    """Seek every stalled changelog partition back to where its recovery stands.

    Returns:
        the partitions sought, with their offsets.
    """
    recovery = app.tables._recovery
    if recovery is None or not recovery.in_recovery:
        return {}
    now = time.monotonic()
    stalled = stalled_partitions(recovery, app.tables.changelog_queue.qsize(), now, stall_s)
    if not stalled:
        return {}
    for tp, offset in sorted(stalled.items()):
        log.warning("%s[%d]: table recovery received no changelog record for %.0f s with "
                    "%d more to read; reading it again from offset %d", tp.topic,
                    tp.partition, stall_s, recovery.active_highwaters[tp] - offset, offset)
        _sought_at[tp] = now
    try:
        await app.consumer.seek_wait(stalled)
    except Exception as exc:  # e.g. the broker did not answer in time: the next look retries
        log.warning("table recovery: seeking the changelog back failed (%r); trying again in "
                    "%.0f s", exc, stall_s)
        return {}
    return stalled


class RecoveryWatch(Service):
    """Runs `read_again` every second from the worker's start.

    Not an app timer: Faust starts those only once the first recovery has completed, and a
    worker's first recovery can stall too (streams/faust_worker.py starts this with the
    worker).
    """

    def __init__(self, app: Any, stall_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app, self.stall_s = app, stall_s

    @Service.timer(1.0)
    async def _watch(self) -> None:
        try:
            await read_again(self.app, self.stall_s)
        except Exception as exc:  # the app or its consumer not started yet, or stopping
            log.debug("recovery guard: could not look at the recovery (%r)", exc)


def install_drill() -> None:
    """Tests only: make each changelog partition's first recovery seek go to its end."""
    from faust.tables.recovery import Recovery

    check_version()
    if getattr(Recovery, "_touchline_recovery_drill", False):
        return
    original = Recovery._seek_offsets
    drilled: set[Any] = set()

    async def _seek_offsets(self: Any, consumer: Any, tps: Any, offsets: Any,
                            title: str) -> None:
        if title != "active" or not tps - drilled:
            return await original(self, consumer, tps, offsets, title)
        ends = await consumer.highwaters(*tps)
        lost = {tp: ends[tp] for tp in tps - drilled if ends.get(tp)}
        drilled.update(tps)
        await original(self, consumer, tps, offsets, title)
        if lost:
            log.warning("drill: recovery of %s starts past every record",
                        ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(lost)))
            await consumer.seek_wait(lost)

    Recovery._seek_offsets = _seek_offsets
    Recovery._touchline_recovery_drill = True
