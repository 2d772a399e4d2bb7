"""Invariant: a worker stopped (SIGTERM) while a batch waits for ClickHouse commits nothing
it did not write: the next worker writes it.

On a stop, Faust closes a stream's `take()` generator, whose cleanup acknowledges the events
it handed over whether or not the agent's body wrote them, and its consumer commits on the way
out. What keeps the batch: the consumer first waits for every message in work to be
acknowledged (`stream_wait_empty`, Faust's default), and the agent's write retries while
ClickHouse refuses it, so the worker holds its stop until SIGKILL. Real broker, store and
workers.
"""

from __future__ import annotations

import time

import pytest

from tests.expectations import simulated
from tests.integration.test_restart import assert_exact, wait_all_rows

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_stop_while_dead_letters_wait_for_clickhouse_loses_none(pipeline_factory):
    truth = simulated(6_000, seed=41, malformed=0.05)
    first, rest = truth.payloads[:1_000], truth.payloads[1_000:]
    p = pipeline_factory()
    p.wait_assigned()
    p.produce(first)
    p.wait_rows("dlq_events", 1)
    # with a part in the table, every further insert is refused (TOO_MANY_PARTS) and retried
    p.sink.command("ALTER TABLE touchline.dlq_events MODIFY SETTING parts_to_throw_insert = 1")
    p.produce(rest)
    wait_all_rows(p, truth.unique_valid, 120, "the valid events' rows")
    envelopes = sum(p.end_offsets(p.settings.kafka.dlq_topic).values())
    assert envelopes >= truth.invalid
    worker = p.worker("worker-1")
    p.wait_until(lambda: "dlq insert failed" in worker.log.read_text(errors="replace"), 60,
                 "the dead letters' insert to wait for ClickHouse")
    time.sleep(2)
    worker.stop(10)  # SIGTERM; the batch in work holds the stop, so SIGKILL after 10 s
    p.sink.command("ALTER TABLE touchline.dlq_events RESET SETTING parts_to_throw_insert")
    p.add_worker("worker-1")
    p.wait_settled()
    assert_exact(p, truth)
