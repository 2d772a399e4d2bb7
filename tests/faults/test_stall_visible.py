"""Invariant: when the workers cannot write, the progress line says so within seconds.

The lag `touchline up` prints comes from the broker's own offsets (committed by the workers'
group vs the topics' end), not from what the workers managed to report to ClickHouse: during a
store outage the workers write nothing (not even `pipeline_metrics`, which used to make the
line read `lag 0`), messages wait, no offset moves, and the line reads `STALLED`. When the
store is back, the same reading drains to 0 by itself. Real broker, store and worker.
"""

from __future__ import annotations

import time

import pytest

from tests.expectations import simulated
from tests.faults.test_outages import outage
from touchline.stack.embedded import Progress, progress_line
from touchline.stack.pipeline_watch import LagWatch

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_a_store_outage_reads_as_stalled_not_lag_0(pipeline_factory):
    truth = simulated(6_000, seed=5)
    p = pipeline_factory()
    half = len(truth.payloads) // 2
    p.produce(truth.payloads[:half])
    p.wait_rows("activities", 1000)
    p.wait_settled()
    watch = LagWatch(p.settings, stall_after_s=3.0)
    try:
        settled = watch.read()
        assert settled.waiting == 0 and not settled.stalled
        outage(p, 45)
        started = time.monotonic()
        p.produce(truth.payloads[half:])
        reading = watch.read()
        while not reading.stalled and time.monotonic() - started < 30:
            time.sleep(0.5)
            reading = watch.read()
        assert reading.stalled, reading
        assert reading.waiting and reading.waiting > 0
        line = progress_line(Progress(lag=reading), 0.0)
        assert "STALLED" in line and f"{reading.waiting:,} waiting" in line
        assert "lag 0" not in line
        # the store comes back: the workers catch up and the same reading drains to 0
        deadline = time.monotonic() + 180
        while (reading.waiting or reading.stalled) and time.monotonic() < deadline:
            time.sleep(1.0)
            reading = watch.read()
        assert reading.waiting == 0 and not reading.stalled, reading
    finally:
        watch.close()
