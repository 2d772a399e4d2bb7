"""The commit guard: Faust's own commit rule on its own bookkeeping, before and after the fix,
and the guard's judgement of a lost message.

These run Faust's real `Consumer._new_offset` (unpatched and patched) on the state it keeps
per partition: the acknowledged offsets, the committed offset (the next offset to read) and
the fetch gaps. The state is what the SIGKILL fault test left behind when it lost events.
The judgement (`stalled`) runs on the same bookkeeping plus what aiokafka knows of the
partition; tests/faults/test_commit_guard_under_load.py runs it in workers under load.
"""

from __future__ import annotations

import weakref
from collections import defaultdict, deque
from types import SimpleNamespace

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree

from touchline.streams import commit_guard

TP0 = TP("t.raw", 0)


class Bookkeeping:
    """The attributes Faust's commit rule reads and writes, and nothing else."""

    def __init__(self, committed: int | None, acked: list[int]) -> None:
        self._acked = defaultdict(list, {TP0: list(acked)})
        self._acked_index = defaultdict(set, {TP0: set(acked)})
        self._committed_offset = defaultdict(lambda: None, {TP0: committed})
        self._gap = defaultdict(IntervalTree)


@pytest.fixture(scope="module")
def faust_rule():
    """Faust's rule as shipped, then the guarded one (the patch is process-wide)."""
    commit_guard.install()
    return Consumer._new_offset.faust_rule, Consumer._new_offset


def test_shipped_rule_commits_past_one_unprocessed_message(faust_rule):
    shipped, _ = faust_rule
    # offset 125 never reached the agent; 126..199 were processed
    assert shipped(Bookkeeping(125, list(range(126, 200))), TP0) == 200


def test_guarded_rule_waits_for_the_unprocessed_message(faust_rule):
    _, guarded = faust_rule
    state = Bookkeeping(125, list(range(126, 200)))
    assert guarded(state, TP0) is None
    assert state._acked[TP0] == list(range(126, 200))  # nothing forgotten meanwhile
    state._acked[TP0].append(125)
    state._acked_index[TP0].add(125)
    assert guarded(state, TP0) == 200


@pytest.mark.parametrize(("committed", "acked", "expected"), [
    (125, list(range(125, 130)), 130),  # the ordinary case
    (125, [125, 126, 128, 129], 127),  # a gap further on: commit up to it
    (125, [127, 128], None),  # two missing: Faust already waited here
    (None, [0, 1, 2], 3),  # nothing committed yet: reading began at the log's start
    (None, [], None),
])
def test_guarded_rule_otherwise_behaves_as_faust(faust_rule, committed, acked, expected):
    _, guarded = faust_rule
    assert guarded(Bookkeeping(committed, acked), TP0) == expected


def test_a_hole_at_the_head_of_a_never_committed_partition_is_not_stepped_over(faust_rule):
    shipped, guarded = faust_rule
    # a worker took over a partition its dead peer had read but never committed: it reads
    # from offset 0, and offsets 0-41 never reached the agent while 42.. were processed
    assert shipped(Bookkeeping(None, list(range(42, 60))), TP0) == 60
    state = Bookkeeping(None, list(range(42, 60)))
    assert guarded(state, TP0) is None
    assert state._committed_offset[TP0] == 0  # what the seek-back judges lost from now on
    state._acked[TP0][:0] = range(42)
    state._acked_index[TP0].update(range(42))
    assert guarded(state, TP0) == 60


def test_a_hole_faust_recorded_as_a_fetch_gap_is_not_stepped_over(faust_rule):
    shipped, guarded = faust_rule
    # Faust records "gap 189" when the message after a lost one arrives, as if the topic
    # were compacted; touchline's topics are not, so the hole is a lost message
    state = Bookkeeping(189, [190, 191])
    state._gap[TP0].addi(189, 190)
    assert shipped(state, TP0) == 192
    state = Bookkeeping(189, [190, 191])
    state._gap[TP0].addi(189, 190)
    assert guarded(state, TP0) is None


def test_messages_that_expired_unread_are_stepped_over_and_no_more(faust_rule):
    _, guarded = faust_rule
    commit_guard._expired_below[(TP0.topic, TP0.partition)] = 130
    try:
        assert guarded(Bookkeeping(125, [130, 131]), TP0) == 132
        assert guarded(Bookkeeping(125, [131, 132]), TP0) is None  # 130 itself still due
        assert guarded(Bookkeeping(None, [130, 131]), TP0) == 132  # never committed, too
    finally:
        commit_guard._expired_below.clear()


class FakeMessage:
    def __init__(self, tp: TP, offset: int) -> None:
        self.tp, self.offset, self.acked = tp, offset, False


STALL, TAIL = 5.0, 30.0  # settings.pipeline.commit_stall_s, commit_tail_stall_s defaults


def consumer(committed: int | None, unacked: list[FakeMessage] = (), acked: list[int] = (),
             buffered: list[FakeMessage] = ()):
    """The attributes of Faust's consumer the judgement reads; `buffered`: messages waiting
    in the agent's stream buffer (its channel's queue, as Faust's conductor put them)."""
    messages = weakref.WeakSet(unacked)
    channel = SimpleNamespace(queue=SimpleNamespace(
        _queue=deque(SimpleNamespace(message=m) for m in buffered)))
    conductor = SimpleNamespace(_topic_name_index={TP0.topic: {0: channel}.values()})
    return SimpleNamespace(
        _committed_offset=defaultdict(lambda: None, {TP0: committed}),
        _acked=defaultdict(list, {TP0: list(acked)}), _commit_fut=None,
        _unacked_messages=messages, _keep=list(unacked), app=SimpleNamespace(topics=conductor))


def fetched(highwater: int = 200, position: int | None = 200) -> commit_guard.PartitionState:
    """aiokafka's state of TP0: `position` is the next offset it hands Faust's fetch step."""
    return commit_guard.PartitionState(highwater, position)


def judge(c, now: float, state: commit_guard.PartitionState | None = None,
          next_fetch: bool = True) -> int | None:
    """The guard's verdict at `now`; `next_fetch`: Faust's fetch loop fetched again before."""
    if next_fetch:
        commit_guard.FetchRounds.count += 1
    return commit_guard.stalled(c, TP0, now, state or fetched(), STALL, TAIL)


@pytest.fixture(autouse=True)
def fresh_watch():
    commit_guard._seen.clear()
    yield
    commit_guard._seen.clear()


def test_a_hole_at_the_head_that_stays_is_sought_back():
    c = consumer(125, acked=list(range(126, 140)))  # later messages done, 125 not
    assert judge(c, 100.0) is None  # first sight
    assert judge(c, 100.0 + STALL - 0.1) is None
    assert judge(c, 100.0 + STALL) == 125
    # not again at once: the seek needs time to bring the message back
    assert judge(c, 100.0 + STALL + 1) is None
    assert judge(c, 100.0 + 2 * STALL) == 125


def test_a_lost_last_message_is_sought_back_only_after_the_long_wait():
    c = consumer(199)  # nothing acknowledged after it, nothing in work, fetched
    assert judge(c, 0.0) is None
    assert judge(c, STALL) is None
    assert judge(c, TAIL) == 199


def test_a_busy_partition_with_its_next_messages_still_queued_is_left_alone():
    # the agent works on other messages of the partition; the next one is still queued
    c = consumer(125, [FakeMessage(TP0, 90)])
    assert judge(c, 0.0) is None
    assert judge(c, 10 * TAIL) is None


def test_messages_still_in_aiokafkas_fetch_buffer_are_queued_not_lost():
    # a backfill partition behind busy live ones: aiokafka holds its next messages and has
    # not handed them to Faust's fetch step yet; nothing of it is in work
    c = consumer(125)
    for now in (0.0, TAIL, 10 * TAIL):
        assert judge(c, now, fetched(position=125)) is None
    assert judge(c, 10 * TAIL + 1, fetched(position=150)) is None  # handed over just now
    assert judge(c, 10 * TAIL + 2, fetched(position=150)) == 125  # and then a fetch again


def test_messages_on_their_way_through_the_fetch_step_are_queued_not_lost():
    # aiokafka handed the partition's messages over, but Faust's fetch loop has not asked for
    # another fetch since: they may still wait there (behind a full bulk queue) untracked
    c = consumer(125)
    assert judge(c, 0.0, fetched(position=150), next_fetch=False) is None
    assert judge(c, 10 * TAIL, fetched(position=150), next_fetch=False) is None
    assert judge(c, 10 * TAIL + 1, fetched(position=150)) == 125


def test_messages_in_a_stream_buffer_are_queued_not_lost():
    # Faust's conductor put the backfill partition's next messages in the agent's stream
    # buffer; its stream tracks each only when it takes it out, behind a batch in work
    waiting = [FakeMessage(TP0, offset) for offset in range(125, 140)]
    c = consumer(125, buffered=waiting)
    assert judge(c, 0.0) is None
    assert judge(c, 10 * TAIL) is None
    c = consumer(125, buffered=waiting[1:], acked=[124])  # 125 itself went missing
    assert judge(c, 10 * TAIL + 1) is None  # its successors are waited for first


def test_a_slow_commit_is_not_a_lost_message():
    # Faust takes the offsets it commits out of `_acked` when the commit starts and moves the
    # committed offset when it ends: meanwhile later offsets look acknowledged and 125 not
    c = consumer(125, acked=[140, 141])
    c._commit_fut = object()
    assert judge(c, 0.0) is None
    assert judge(c, 10 * TAIL) is None
    c._commit_fut = None  # the commit ended ...
    c._committed_offset[TP0] = 140  # ... and moved the committed offset
    assert judge(c, 10 * TAIL + 1) is None
    assert judge(c, 20 * TAIL) is None  # 140 is acknowledged: Faust commits it next


def test_a_failed_commit_leaves_a_hole_that_is_sought_back():
    c = consumer(125, acked=[140, 141])  # 125..139 left `_acked` for a commit that failed
    assert judge(c, 0.0) is None
    assert judge(c, STALL) == 125


def test_the_drill_seeks_whatever_is_queued_or_in_work():
    c = consumer(125, [FakeMessage(TP0, 125)])
    for now in (0.0, 1.0):
        assert commit_guard.stalled(c, TP0, now, fetched(position=125), STALL, TAIL,
                                    drill=True) == 125
    assert commit_guard.stalled(consumer(200), TP0, 2.0, fetched(), STALL, TAIL,
                                drill=True) is None  # read to its end


def test_a_commit_that_moves_is_never_sought():
    for step in range(10):
        c = consumer(125 + step, acked=[127 + step])
        assert judge(c, 100.0 + step * STALL) is None


def test_the_next_message_in_work_is_waited_for_however_long():
    head = FakeMessage(TP0, 125)
    c = consumer(125, [head], acked=[126])
    assert judge(c, 0.0) is None
    assert judge(c, 600.0) is None  # e.g. ClickHouse down
    head.acked = True
    assert judge(c, 601.0) == 125


def test_a_bulk_run_in_work_holds_every_offset_it_spans():
    # streams/bulk_intake.py tracks one message per run: the last record's, with the run's
    # first offset beside it; the committed offset inside the run is in work, not lost
    run = FakeMessage(TP0, 130)
    run.first_offset = 120
    c = consumer(125, [run], acked=[131])
    assert judge(c, 0.0) is None
    assert judge(c, 600.0) is None
    run.acked = True
    assert judge(c, 601.0) == 125


def test_a_partition_read_to_its_end_is_left_alone():
    assert judge(consumer(200), 0.0) is None
    assert judge(consumer(200), 10 * TAIL) is None


def test_a_never_committed_partition_whose_records_reached_no_agent_is_sought_back():
    # aiokafka handed out offsets 0-124 (a rebalance dropped them), nothing committed, nothing
    # in work: Faust's seek to the committed offsets has nothing to seek to (the Kafka CI run's
    # SIGKILL-during-a-rebalance failure, docs/brokers.md)
    c = consumer(None)
    assert judge(c, 0.0, fetched(highwater=125, position=125)) is None  # first sight
    assert judge(c, TAIL - 0.1, fetched(highwater=125, position=125)) is None
    assert judge(c, TAIL, fetched(highwater=125, position=125)) == 0
    # but not while its first messages are still in work
    commit_guard._seen.clear()
    busy = consumer(None, unacked=[FakeMessage(TP0, 0)])
    assert judge(busy, 0.0, fetched(highwater=125, position=125)) is None
    assert judge(busy, 10 * TAIL, fetched(highwater=125, position=125)) is None
