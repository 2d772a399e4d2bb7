"""The recovery guard's judgement of a stalled changelog partition (streams/recovery_guard.py).

Runs `stalled_partitions` on the attributes of Faust's `Recovery` it reads, as Faust sets them:
highwaters and offsets are last offsets (-1: nothing read), events are stamped with
`time.monotonic()`. tests/faults/test_recovery_guard.py runs the guard in a worker.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from faust.types import TP

from touchline.streams import recovery_guard

CL0, CL1 = TP("app-history-changelog", 0), TP("app-history-changelog", 1)
STARTED = 1000.0


def recovery(offsets: dict, highwaters: dict, received: dict | None = None,
             in_recovery: bool = True) -> SimpleNamespace:
    return SimpleNamespace(in_recovery=in_recovery, _recovery_started_at=STARTED,
                           active_tps=set(highwaters), active_highwaters=highwaters,
                           active_offsets=offsets, _active_events_received_at=received or {})


@pytest.fixture(autouse=True)
def no_earlier_seeks():
    recovery_guard._sought_at.clear()
    yield
    recovery_guard._sought_at.clear()


def test_a_partition_with_records_left_and_none_received_is_read_again_from_its_offset():
    r = recovery({CL0: -1, CL1: 7}, {CL0: 5, CL1: 9})
    assert recovery_guard.stalled_partitions(r, 0, STARTED + 30, 30) == {CL0: 0, CL1: 7}


def test_a_partition_read_to_its_end_or_still_receiving_is_left_alone():
    r = recovery({CL0: 5, CL1: 3}, {CL0: 5, CL1: 9}, received={CL1: STARTED + 25})
    assert recovery_guard.stalled_partitions(r, 0, STARTED + 40, 30) == {}
    assert recovery_guard.stalled_partitions(r, 0, STARTED + 55, 30) == {CL1: 3}


def test_nothing_is_judged_before_the_wait_while_events_queue_or_outside_recovery():
    r = recovery({CL0: -1}, {CL0: 5})
    assert recovery_guard.stalled_partitions(r, 0, STARTED + 29, 30) == {}
    assert recovery_guard.stalled_partitions(r, 3, STARTED + 60, 30) == {}  # queued: slow
    done = recovery({CL0: -1}, {CL0: 5}, in_recovery=False)
    assert recovery_guard.stalled_partitions(done, 0, STARTED + 60, 30) == {}


def test_after_a_seek_the_guard_waits_a_whole_stall_again():
    r = recovery({CL0: -1}, {CL0: 5})
    recovery_guard._sought_at[CL0] = STARTED + 30
    assert recovery_guard.stalled_partitions(r, 0, STARTED + 45, 30) == {}
    assert recovery_guard.stalled_partitions(r, 0, STARTED + 60, 30) == {CL0: 0}


def test_a_seek_that_fails_is_tried_again_after_another_whole_stall(caplog):
    """The seek itself can fail (the broker does not answer in time): one warning, and the
    next try a whole `stall_s` later, not every second."""
    import asyncio
    import time

    class Queue:
        def qsize(self) -> int:
            return 0

    class Consumer:
        calls: list[dict] = []

        async def seek_wait(self, partitions: dict) -> None:
            self.calls.append(dict(partitions))
            raise TimeoutError("no answer")

    r = recovery({CL0: 2}, {CL0: 5})
    r._recovery_started_at = time.monotonic() - 31
    app = SimpleNamespace(tables=SimpleNamespace(_recovery=r, changelog_queue=Queue()),
                          consumer=Consumer())
    assert asyncio.run(recovery_guard.read_again(app, 30)) == {}
    assert asyncio.run(recovery_guard.read_again(app, 30)) == {}  # a second later: waits
    assert Consumer.calls == [{CL0: 2}]
    assert "seeking the changelog back failed" in caplog.text
