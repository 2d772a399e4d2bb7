"""A worker SIGKILLed mid-stream and restarted: totals exact (no loss, no double count).

Marked `broker_semantics`: also run on Apache Kafka (tests/harness.py `BROKER`), where the
workers have no static membership, so a killed worker is a dead member the broker evicts.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.expectations import simulated
from tests.harness import topic_records
from touchline.streams.partitioning import partition_for

pytestmark = pytest.mark.integration


def assert_exact(p, truth) -> None:
    assert p.scalar("SELECT count() FROM {db}.activities") == len(truth.unique_valid)
    assert p.scalar("SELECT uniqExact(event_id) FROM {db}.activities") == len(truth.unique_valid)
    assert p.scalar("SELECT sum(touches) FROM {db}.touch_counts WHERE entity_type = 'rep'") \
        == truth.touches
    assert p.scalar("SELECT count() FROM {db}.dlq_events FINAL") == truth.invalid, \
        p.explain_missing_dead_letters(truth.invalid)
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
        from touchline.load.produce import send_batches

        try:
            send_batches(self.p.settings, self.payloads, batch=200, rate=self.rate)
        except BaseException as exc:
            self.error = exc
            raise


def produce_in_background(p, payloads, rate: float) -> Producer:
    thread = Producer(p, payloads, rate)
    thread.start()
    return thread


@pytest.mark.broker_semantics
def test_sigkill_mid_stream_then_restart_gives_exact_totals(pipeline_factory):
    truth = simulated(40_000)
    p = pipeline_factory()
    p.wait_assigned()
    producer = produce_in_background(p, truth.payloads, rate=8000)
    p.wait_rows("activities", 2000)
    at_kill = p.scalar("SELECT count() FROM {db}.activities")
    p.worker("worker-1").kill()
    assert at_kill < len(truth.unique_valid)
    # the same worker comes back: on noida-db it takes its partitions back at once (static
    # group membership); on Kafka it joins as a new member, and gets them once the broker has
    # evicted the dead one (group member timeout, 10 s)
    p.add_worker("worker-1")
    producer.join(120)
    assert producer.error is None, f"the producer failed: {producer.error}"
    wait_all_rows(p, truth.unique_valid, 180, "all rows after restart")
    p.wait_settled()
    assert_exact(p, truth)


@pytest.mark.broker_semantics
def test_two_workers_split_partitions_and_survive_one_killed(pipeline_factory,
                                                             evicting_bootstrap):
    # Without static membership, on a broker that evicts the dead member: Apache Kafka on the
    # Kafka run, Tansu on the noida-db run. noida-db never evicts a dead group member, so
    # there the survivor would wait for the killed worker to come back (docs/brokers.md).
    truth = simulated(30_000, seed=12)
    p = pipeline_factory(workers=2, bootstrap=evicting_bootstrap, static_membership=False)
    p.wait_assigned(workers=2)
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


#: changelog topic configs that make the broker compact within the test: a segment rolls on
#: the first write a second after it opened (only closed segments are cleaned), and any dirty
#: share makes it cleanable (Kafka's cleaner looks every second on the test broker,
#: tests/kafka/launcher.py). noida-db honours them too. With the default configs (segments of
#: 1 GB or 7 days) neither broker compacts a changelog within a test.
FAST_COMPACTION = {"segment.ms": "1000", "min.cleanable.dirty.ratio": "0.01",
                   "min.compaction.lag.ms": "0"}
WAVES = 6
HISTORY = "stage_history_by_opportunity"


def _change(account: str, wave: int, at: datetime) -> bytes:
    """A CRM stage change of the account's opportunity, by editor ed<wave>."""
    doc = {"event_id": f"{account}-s{wave}", "tenant": "cmp", "type": "stage_change",
           "occurred_at": at.isoformat(), "source": "test", "rep_id": "r1", "team_id": "T",
           "account_id": account, "opportunity_id": f"{account}-O", "to_stage": f"s{wave}",
           "editor_id": f"ed{wave}"}
    if wave:
        doc["from_stage"] = f"s{wave - 1}"
    return orjson.dumps(doc)


def history_records(p) -> list[tuple[bytes, bytes | None]]:
    """(key, value) of the stage-history changelog, in offset order per partition."""
    return [(r.key, r.value) for r in topic_records(p.settings.kafka, p.changelog(HISTORY))]


@pytest.mark.broker_semantics
def test_worker_restarts_from_a_compacted_changelog(pipeline_factory, broker_kind):
    """Invariant: a worker that recovers its stage histories from a compacted changelog (only
    the latest value of each key left) carries on as one that never stopped.

    The broker has compacted the changelog before the kill (asserted: fewer records than
    offsets written, the latest value of every key kept whole). The history must come from
    the changelog, not from ClickHouse: a history reloaded from `stage_visits`
    (stage_memory.load_histories) gives every change the opportunity's latest editor, the
    changelog keeps each change's own, so the value written after the restart shows where
    the history came from.
    """
    p = pipeline_factory(changelog_configs=FAST_COMPACTION)
    accounts = [f"A{i}" for i in range(1, 9)]
    assert len({partition_for("cmp", a, 4) for a in accounts}) == 4
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    for wave in range(WAVES):  # each wave changes every opportunity's stage, a minute later
        p.produce([_change(a, wave, base + timedelta(minutes=wave)) for a in accounts],
                  batch=1)
        p.wait_rows("stage_visits", len(accounts) * (wave + 1))
        time.sleep(1.2)  # past segment.ms: the next wave's writes roll the changelog segments

    def changelog_state() -> tuple[int, int]:  # (records held, offsets written)
        end = p.end_offsets(p.changelog(HISTORY))
        return len(history_records(p)), sum(end.values())

    p.wait_until(lambda: changelog_state()[0] < changelog_state()[1], 60,
                 "the broker to compact the changelog")
    held, written = changelog_state()
    print(f"stage-history changelog before the kill on {broker_kind.name}: {held} records "
          f"held of {written} written")
    latest = dict(history_records(p))
    assert [k for k, v in latest.items() if v is not None] == list(latest)
    assert sorted(latest) == sorted(orjson.dumps(f"cmp|{a}-O") for a in accounts)
    assert all([c[10] for c in orjson.loads(v)] == [f"ed{w}" for w in range(WAVES)]
               for v in latest.values())  # the latest value of every key is whole

    p.worker("worker-1").kill()
    p.add_worker("worker-1")  # recovers the table from the changelog
    p.produce([_change(a, WAVES, base + timedelta(minutes=WAVES)) for a in accounts], batch=1)
    p.wait_until(lambda: p.accounted() >= len(accounts) * (WAVES + 1), 120,
                 "every change after the restart decided")
    p.wait_settled()
    assert p.scalar("SELECT count() FROM {db}.activities") == len(accounts) * (WAVES + 1)
    state = p.rows("SELECT opportunity_id, current_stage, stage_changes FROM "
                   "{db}.opportunity_state FINAL ORDER BY opportunity_id")
    assert state == [(f"{a}-O", f"s{WAVES}", WAVES + 1) for a in accounts]
    open_visits = p.rows("SELECT opportunity_id, stage FROM {db}.stage_visits FINAL "
                         "WHERE exited_at IS NULL ORDER BY opportunity_id")
    assert open_visits == [(f"{a}-O", f"s{WAVES}") for a in accounts]
    assert p.scalar("SELECT count() FROM {db}.stage_visits FINAL") \
        == len(accounts) * (WAVES + 1)
    latest = dict(history_records(p))  # the last value of each key
    for account in accounts:
        value = latest[orjson.dumps(f"cmp|{account}-O")]
        assert value is not None
        editors = [change[10] for change in orjson.loads(value)]
        assert editors == [f"ed{w}" for w in range(WAVES + 1)], (account, editors)
