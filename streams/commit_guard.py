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

`install` replaces the rule: nothing is committed until the message at the committed offset
was acknowledged (offset 0, the log's start, while nothing was committed yet). touchline's
topics are neither compacted nor transactional, so a hole is never legitimate, with one
exception: messages the broker deleted (retention) before they were read. `seek_stalled`
(every second, from streams/agents/refetch_stalled.py) is the recovery: a partition whose
committed offset is the offset of a lost message is sought back to it; the lost message is
fetched again and the ones after it are read again and dropped as duplicates. If the
committed offset is below the broker's first offset, the messages are gone: the partition
moves on from the first one there, with a warning that names how many expired unread.

A message is judged lost only when all of this holds (`stalled`):
- Faust's fetch step has had it: aiokafka's position for the partition is past it, and Faust's
  fetch loop has come back for another fetch since (so every record of that fetch went on to
  an agent's stream buffer or bulk queue). A message still in aiokafka's fetch buffer, or
  waiting in the fetch step behind other partitions' messages, is queued, not lost;
- it is not in work (in an agent's stream buffer, where Faust does not track it yet, or tracked
  and not acknowledged: in a bulk queue or a batch not yet written) and no offset commit is in
  flight (Faust drops acknowledged offsets from its books when a commit starts and moves the
  committed offset when it ends: a slow commit looks like a message skipped);
- the committed offset stood still that long: `commit_stall_s` when later offsets were
  acknowledged, `commit_tail_stall_s` when nothing after it was (settings.pipeline).

Every call into aiokafka runs in the consumer's own thread: Faust runs aiokafka in a thread
of its own with its own event loop (`ThreadDelegateConsumer`), and aiokafka is not
thread-safe (a seek from Faust's main thread while that thread was inside
`Fetcher.fetched_records` crashed the worker with a `KeyError`). Positions and highwaters
are read there through the thread's method queue (`call_thread`, as Faust forwards its own
calls); the seeks are made by Faust's fetch loop itself, between two fetches (the guard's
wrapper of `Consumer._wait_next_records`), again through `call_thread`: no fetch is running
then and no fetched record is on its way, so none from before the seek can arrive after it
and overwrite the read offset the seek set.

The patch replaces private methods of faust-streaming and reads aiokafka's partition state,
so `install` first checks that the installed versions are `FAUST_VERSION` and
`AIOKAFKA_VERSION` and refuses to start on any other (streams/library_patch.py). Delete this
module and streams/agents/refetch_stalled.py once a faust-streaming release fixes #606.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from touchline.streams.library_patch import require

log = logging.getLogger(__name__)

#: the faust-streaming release whose `Consumer._new_offset` this replaces (pyproject.toml pin)
FAUST_VERSION = "0.15.3"
#: the aiokafka release whose partition state `partition_states` reads (pyproject.toml pin)
AIOKAFKA_VERSION = "0.14.0"
#: the upstream defect; when a release fixes it, this module goes
UPSTREAM = "faust-streaming/faust#606 (fix proposed in faust-streaming/faust#707)"


@dataclass(frozen=True)
class PartitionState:
    """What aiokafka knows of one partition, read in the consumer's thread."""

    #: the offset the next produced message will get (None: not fetched yet)
    highwater: int | None
    #: the next offset aiokafka will hand Faust's fetch step (None: not known yet)
    position: int | None


@dataclass
class Watch:
    """One partition's committed offset, since when it stands, and whether it was fetched."""

    committed: int
    since: float
    #: the fetch round in which aiokafka was seen past `committed` (None: not yet)
    handed_round: int | None = None


class FetchRounds:
    """How many times Faust's fetch loop asked for a fetch in this process.

    Faust asks for the next fetch only after every record of the last one went on, to an
    agent's stream buffer or bulk queue, or was dropped.
    """

    count = 0


#: (topic, partition) -> its watch
_seen: dict[tuple[str, int], Watch] = {}
#: (topic, partition) -> the broker's first offset, when messages below it expired unread
_expired_below: dict[tuple[str, int], int] = {}
#: TP -> (offset to seek to, the committed offset it was decided on); the fetch loop seeks
_to_seek: dict[Any, tuple[int, int]] = {}


def committed_from(consumer: Any, tp: Any) -> int:
    """Where reading of `tp` resumes: its committed offset, or 0 when nothing was committed.

    Faust reads a committed 0 as None too; reading began at the log's start
    (`consumer_auto_offset_reset` earliest). The commit rule, the judgement of a lost message
    and the seek all count a never-committed partition from there: a never-committed
    partition whose fetched records reached no agent (dropped in a rebalance) had nothing else
    to bring them back, as Faust seeks to committed offsets only.
    """
    return consumer._committed_offset.get(tp) or 0


def check_version() -> None:
    """Refuse to run on a faust-streaming or aiokafka other than the ones this was written for.

    Raises:
        PatchedVersionMismatch: one line naming both versions and the upstream issue.
    """
    require("faust-streaming", FAUST_VERSION, "streams/commit_guard.py", UPSTREAM)
    require("aiokafka", AIOKAFKA_VERSION, "streams/commit_guard.py", UPSTREAM)


def install() -> None:
    """Patch Faust's commit rule and fetch step once per process, after checking versions."""
    check_version()
    from faust.transport.consumer import Consumer

    if getattr(Consumer, "_touchline_commit_guard", False):
        return
    original = Consumer._new_offset
    fetch = Consumer._wait_next_records

    def _new_offset(self: Any, tp: Any) -> int | None:
        self._gap.pop(tp, None)  # a hole in our topics is a lost message, never a gap
        acked = self._acked[tp]
        if acked:
            # a never-committed partition counts from 0 (`committed_from`), so a hole before
            # its first acknowledged message is a lost message too. Faust's rule would commit
            # past it: a worker that takes over a partition its dead peer never committed lost
            # the messages at its head.
            self._committed_offset[tp] = committed = committed_from(self, tp)
            first = _expired_below.get((tp.topic, tp.partition))
            if first is not None and committed < first <= min(acked):
                self._committed_offset[tp] = committed = first  # nothing left below it
            if min(acked) > committed:
                return None  # offset `committed` itself has not been processed yet
        return original(self, tp)

    async def _wait_next_records(self: Any, timeout: float) -> Any:
        FetchRounds.count += 1
        if _to_seek:
            try:
                await perform_seeks(self)
            except Exception as exc:  # the fetch goes on; the guard decides again later
                log.warning("the commit guard's seek failed (%r); fetching on", exc)
        return await fetch(self, timeout)

    _new_offset.faust_rule = original  # type: ignore[attr-defined]  # kept for the tests
    Consumer._new_offset = _new_offset
    Consumer._wait_next_records = _wait_next_records
    Consumer._touchline_commit_guard = True


def partition_states(thread: Any) -> dict[Any, PartitionState]:
    """Highwater and position of every assigned partition: run in the consumer's thread.

    Args:
        thread: Faust's `AIOKafkaConsumerThread` (`consumer._thread`); called through its
            `call_thread`, as Faust's own consumer calls are.
    """
    from faust.types import TP

    subscription = thread._ensure_consumer()._subscription.subscription
    assignment = subscription.assignment if subscription is not None else None
    if assignment is None:
        return {}
    states = {}
    for tp in assignment.tps:
        state = assignment.state_value(tp)
        states[TP(tp.topic, tp.partition)] = PartitionState(
            state.highwater, state.position if state.has_valid_position else None)
    return states


def seek_in_thread(thread: Any, targets: dict[Any, int]) -> dict[Any, int]:
    """Seek partitions still assigned to their offsets: run in the consumer's thread.

    Returns:
        the partitions sought, with their offsets.
    """
    consumer = thread._ensure_consumer()
    assigned = consumer.assignment()
    done = {}
    for tp, offset in targets.items():
        if tp in assigned:
            consumer.seek(tp, offset)
            done[tp] = offset
    return done


async def perform_seeks(consumer: Any) -> dict[Any, int]:
    """Make the seeks `seek_stalled` decided: Faust's fetch loop calls this between fetches.

    A seek whose partition was committed further meanwhile, or that meets a rebalance, is
    dropped: Faust seeks every partition to its committed offset after a rebalance itself.
    """
    decided = dict(_to_seek)
    _to_seek.clear()
    if not consumer.flow_active or consumer.app.rebalancing:
        return {}
    targets = {tp: offset for tp, (offset, committed) in decided.items()
               if committed_from(consumer, tp) == committed}
    if not targets:
        return {}
    thread = consumer._thread
    done = await thread.call_thread(seek_in_thread, thread, targets)
    for tp, offset in done.items():
        consumer._read_offset[tp] = offset or None  # as Faust's `Consumer.seek` does
    return done


def buffered(consumer: Any, tp: Any) -> list[int]:
    """Offsets of `tp` waiting in an agent's stream buffer.

    Faust's conductor puts fetched messages there, up to `stream_buffer_maxsize`; the stream
    tracks one as in work only when it takes it out.
    """
    channels = consumer.app.topics._topic_name_index.get(tp.topic, ())
    return [event.message.offset for channel in list(channels)
            for event in list(channel.queue._queue) if event.message.tp == tp]


def stalled(consumer: Any, tp: Any, now: float, state: PartitionState, stall_s: float,
            tail_s: float, drill: bool = False) -> int | None:
    """The committed offset to seek `tp` back to, if the message there was lost; else None.

    Lost: the committed offset stood still for `stall_s` while later offsets were acknowledged
    (one agent acknowledges a partition's messages in order), or for `tail_s` with nothing
    acknowledged or in work after it (a lost *last* message), the broker having more; Faust's
    fetch step has had the message (aiokafka's position is past it and the fetch loop came
    back for another fetch since); it is not in work; no commit is in flight. A message merely
    queued (in aiokafka's fetch buffer, in the fetch step, in a bulk queue, in a batch not yet
    written) fails one of these. `drill` (settings.pipeline.commit_guard_drill, tests only)
    seeks every partition the broker has more of on every call, to exercise the recovery
    under load.
    """
    committed = committed_from(consumer, tp)
    key = (tp.topic, tp.partition)
    if state.highwater is None or committed >= state.highwater:
        _seen.pop(key, None)
        return None
    watch = _seen.get(key)
    fresh = watch is None or watch.committed != committed
    if fresh:
        watch = _seen[key] = Watch(committed, now)
    if state.position is None or state.position <= committed:
        watch.handed_round = None  # still to be fetched, or sought back
    elif watch.handed_round is None:
        watch.handed_round = FetchRounds.count
    if drill:
        return committed  # every tick, whatever is queued or in work
    if fresh or getattr(consumer, "_commit_fut", None) is not None:
        return None  # a commit in flight: the offsets it commits left `_acked` already
    acked = consumer._acked.get(tp) or ()
    if acked and min(acked) <= committed:
        return None  # processed: Faust commits past it at its next commit
    skipped = bool(acked)
    if now - watch.since < (stall_s if skipped else tail_s):
        return None
    if watch.handed_round is None or FetchRounds.count <= watch.handed_round:
        return None  # queued in aiokafka or on its way through the fetch step
    # in work: tracked and not acknowledged (a bulk run's tracker stands for its offsets from
    # `first_offset` on, streams/bulk_intake.py), or in a stream buffer
    in_work = [(getattr(m, "first_offset", m.offset), m.offset)
               for m in list(consumer._unacked_messages) if m.tp == tp and not m.acked]
    in_work += [(offset, offset) for offset in buffered(consumer, tp)]
    if any(first <= committed <= last for first, last in in_work) or (in_work and not skipped):
        return None
    _seen[key] = Watch(committed, now)  # the next seek, if needed, after another full wait
    return committed


async def seek_stalled(app: Any, stall_s: float, tail_s: float,
                       drill: bool = False) -> list[tuple[Any, int]]:
    """Have Faust's fetch loop seek every partition with a lost message back to it.

    Table changelogs are left alone: Faust reads them itself and commits nothing there.
    Returns the seeks decided; the fetch loop makes them before its next fetch.
    """
    from faust.exceptions import ConsumerNotStarted

    if app.rebalancing:
        return []
    consumer = app.consumer
    thread = consumer._thread
    try:
        states = await thread.call_thread(partition_states, thread)
    except ConsumerNotStarted:
        return []
    now = time.monotonic()
    for key in [key for key in _seen if key not in states]:  # TP is a (topic, partition)
        del _seen[key]
    decided = []
    for tp in sorted(states):
        if tp.topic.endswith("-changelog") or app.rebalancing:
            continue
        committed = stalled(consumer, tp, now, states[tp], stall_s, tail_s, drill)
        if committed is None:
            continue
        offset = committed
        first = (await consumer.earliest_offsets(tp)).get(tp) or 0  # in the consumer thread
        if offset < first:
            _expired_below[(tp.topic, tp.partition)] = first
            log.warning("%s[%d]: %d messages (offsets %d-%d) expired in the broker before "
                        "they were processed (topic retention); going on from offset %d",
                        tp.topic, tp.partition, first - offset, offset, first - 1, first)
            offset = first
        elif drill:
            log.warning("%s[%d]: drill: reading the partition again from offset %d",
                        tp.topic, tp.partition, offset)
        else:
            log.warning("%s[%d]: offset %d was fetched but never processed (the commit "
                        "stood still while the broker had more); reading the partition again "
                        "from there", tp.topic, tp.partition, offset)
        _to_seek[tp] = (offset, committed)
        decided.append((tp, offset))
    return decided
