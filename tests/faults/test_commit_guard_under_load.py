"""The commit guard (streams/commit_guard.py) in a worker under load: its seeks while the
consumer thread fetches, and its judgement of a lost message while messages are only queued.

One event per message and 20,000-message batches, as in the e2e bench's `single` framing
where a worker crashed: the guard sought a partition back from Faust's main thread while
aiokafka, in the consumer's own thread, was inside `Fetcher.fetched_records` (`KeyError`).
Invariant: the worker lives, no recovery is logged where nothing was lost, and every event is
recorded exactly once (rows, touch counts, dead letters).
"""

from __future__ import annotations

import threading

import pytest

from tests.expectations import simulated
from tests.integration.test_restart import assert_exact, wait_all_rows
from touchline.load.produce import send_batches

pytestmark = [pytest.mark.integration, pytest.mark.faults]

#: the bench's `single` framing with its large batches (TOUCHLINE_PIPELINE__BATCH_MESSAGES)
LARGE_BATCHES = {"batch_messages": 20_000, "batch_events": 100_000}
#: what the worker logs when the guard judges a message lost, and when the drill seeks
LOST = "was fetched but never processed"
DRILLED = "drill: reading the partition again"


class Sender(threading.Thread):
    """send_batches in a thread, one event per message; `error` holds what it raised."""

    def __init__(self, p, payloads: list[bytes], topic: str | None = None) -> None:
        super().__init__()
        self.p, self.payloads, self.topic = p, payloads, topic
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            send_batches(self.p.settings, self.payloads, batch=1, topic=self.topic)
        except BaseException as exc:  # reported by the test
            self.error = exc


def sent(p, *lanes: tuple[list[bytes], str | None]) -> None:
    senders = [Sender(p, payloads, topic) for payloads, topic in lanes]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(300)
        assert sender.error is None, f"the producer failed: {sender.error}"


def worker_log(p) -> str:
    return p.worker("worker-1").log.read_text(errors="replace")


def test_seeks_while_the_consumer_thread_fetches_lose_and_double_nothing(pipeline_factory):
    """The drill seeks every partition with more on the broker back to its committed offset
    every second, as the recovery of a lost message does, while aiokafka fetches the backlog."""
    truth = simulated(60_000, seed=41)
    p = pipeline_factory(commit_guard_drill=True, **LARGE_BATCHES)
    p.wait_assigned()
    sent(p, (truth.payloads, None))
    wait_all_rows(p, truth.unique_valid, 300, "all rows while the guard seeks")
    p.wait_settled()
    assert p.stack.crashed() == []
    log = worker_log(p)
    assert log.count(DRILLED) >= 3, "the drill sought no partition back: nothing was tested"
    assert "KeyError" not in log and "Traceback" not in log
    assert_exact(p, truth)


def test_queued_messages_are_not_taken_for_lost_ones(pipeline_factory):
    """Live events and a backfill at once, stall times shortened to 1 s and 2 s: a partition
    whose messages wait in aiokafka's fetch buffer, behind a full bulk queue or in a batch not
    yet written, or whose commit is in flight, is never sought back."""
    truth = simulated(40_000, seed=42, duplicates=0.0)  # one lane per event: no dedup race
    p = pipeline_factory(commit_stall_s=1.0, commit_tail_stall_s=2.0, **LARGE_BATCHES)
    p.wait_assigned()
    live, backfill = truth.payloads[::2], truth.payloads[1::2]
    sent(p, (live, None), (backfill, p.settings.kafka.backfill_topic))
    wait_all_rows(p, truth.unique_valid, 300, "all rows of both lanes")
    p.wait_settled()
    assert p.stack.crashed() == []
    log = worker_log(p)
    assert LOST not in log, "the guard took queued messages for lost ones"
    assert "Traceback" not in log
    assert_exact(p, truth)
