"""A worker SIGKILLed mid-stream and restarted: totals exact (no loss, no double count)."""

from __future__ import annotations

import threading

import pytest

from tests.expectations import simulated

pytestmark = pytest.mark.integration


def assert_exact(p, truth) -> None:
    assert p.scalar("SELECT count() FROM {db}.activities") == len(truth.unique_valid)
    assert p.scalar("SELECT uniqExact(event_id) FROM {db}.activities") == len(truth.unique_valid)
    assert p.scalar("SELECT sum(touches) FROM {db}.touch_counts WHERE entity_type = 'rep'") \
        == truth.touches
    assert p.scalar("SELECT count() FROM {db}.dlq_events FINAL") == truth.invalid
    missing = set(truth.unique_valid) - {r[0] for r in p.rows(
        "SELECT event_id FROM {db}.activities")}
    assert not missing, p.explain_missing(truth.unique_valid)


def wait_all_rows(p, expected: set[str], timeout: float, what: str) -> None:
    """Until every expected event has a row; on timeout, say where the missing ones are."""
    try:
        p.wait_until(lambda: p.scalar("SELECT count() FROM {db}.activities") >= len(expected),
                     timeout, what)
    except AssertionError as exc:
        try:
            where = p.explain_missing(expected)
        except Exception as why:  # the broker may be the thing that is down
            where = f"(could not say where the missing events are: {why})"
        raise AssertionError(f"{exc}\n{where}") from None


class Producer(threading.Thread):
    """send_batches in a thread; `error` holds what it raised, if anything."""

    def __init__(self, p, payloads, rate: float) -> None:
        super().__init__()
        self.p, self.payloads, self.rate = p, payloads, rate
        self.error: BaseException | None = None

    def run(self) -> None:
        from touchline.produce import send_batches

        try:
            send_batches(self.p.settings, self.payloads, batch=200, rate=self.rate)
        except BaseException as exc:
            self.error = exc
            raise


def produce_in_background(p, payloads, rate: float) -> Producer:
    thread = Producer(p, payloads, rate)
    thread.start()
    return thread


def test_sigkill_mid_stream_then_restart_gives_exact_totals(pipeline_factory):
    truth = simulated(40_000)
    p = pipeline_factory()
    producer = produce_in_background(p, truth.payloads, rate=8000)
    p.wait_rows("activities", 2000)
    at_kill = p.scalar("SELECT count() FROM {db}.activities")
    p.worker("worker-1").kill()
    assert at_kill < len(truth.unique_valid)
    p.add_worker("worker-1")  # the same worker comes back (static group membership)
    producer.join(120)
    assert producer.error is None, f"the producer failed: {producer.error}"
    wait_all_rows(p, truth.unique_valid, 180, "all rows after restart")
    p.wait_settled()
    assert_exact(p, truth)


def test_two_workers_split_partitions_and_survive_one_killed(pipeline_factory, tansu_bootstrap):
    # On Tansu: noida-db never evicts a dead group member, so there the survivor would wait
    # for the killed worker to come back (README, "Brokers"); Tansu needs dynamic membership.
    truth = simulated(30_000, seed=12)
    p = pipeline_factory(workers=2, bootstrap=tansu_bootstrap, static_membership=False,
                         )
    producer = produce_in_background(p, truth.payloads, rate=6000)
    p.wait_until(lambda: p.scalar(
        "SELECT uniqExact(worker) FROM {db}.pipeline_metrics WHERE topic = {t:String} "
        "AND accepted > 0", t=p.settings.kafka.activities_topic) == 2, 120,
        "both workers to process activities partitions")
    p.worker("worker-2").kill()
    producer.join(120)
    assert producer.error is None, f"the producer failed: {producer.error}"
    wait_all_rows(p, truth.unique_valid, 180, "all rows after one worker died")
    p.wait_settled()
    assert_exact(p, truth)
