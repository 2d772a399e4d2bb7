"""A table recovery whose changelog records never arrive finishes (streams/recovery_guard.py).

On Apache Kafka 4.4.0 a survivor's recovery of the stage histories sometimes waited for
changelog records that never reached it (docs/brokers.md, "Known defect"). The drill
(`recovery_guard_drill`) puts a restarted worker in that state on purpose: its recovery
starts past every changelog record, as if each had been fetched and lost. Only the guard's
reading again can finish the recovery; without it the worker never processes another event.

Marked `broker_semantics`: also run on Apache Kafka (tests/harness.py `BROKER`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.integration.test_restart import _change, history_records
from touchline.streams.partitioning import partition_for

pytestmark = [pytest.mark.integration, pytest.mark.broker_semantics]

WAVES = 3


def test_a_recovery_that_receives_no_changelog_record_reads_it_again(pipeline_factory):
    """Invariant: a restarted worker whose recovery received none of its changelog records
    reads the changelog again, recovers every stage history whole, and carries on as one
    that never stopped (each opportunity's history lists every editor, in order)."""
    p = pipeline_factory()
    accounts = [f"A{i}" for i in range(1, 9)]
    assert len({partition_for("cmp", a, 4) for a in accounts}) == 4
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    for wave in range(WAVES):
        p.produce([_change(a, wave, base + timedelta(minutes=wave)) for a in accounts],
                  batch=1)
        p.wait_rows("stage_visits", len(accounts) * (wave + 1))
    p.wait_settled()
    p.worker("worker-1").kill()

    p.settings.pipeline = p.settings.pipeline.model_copy(
        update={"recovery_guard_drill": True, "recovery_stall_s": 3.0})
    worker = p.add_worker("worker-1")
    logged_before = worker.log.stat().st_size
    p.produce([_change(a, WAVES, base + timedelta(minutes=WAVES)) for a in accounts], batch=1)
    p.wait_until(lambda: p.accounted() >= len(accounts) * (WAVES + 1), 120,
                 "every change after the restart decided")
    p.wait_settled()

    log = worker.log.read_text(errors="replace")[logged_before:]
    assert "drill: recovery of" in log, log[-3000:]  # the drill did lose the records
    assert "reading it again from offset" in log, log[-3000:]
    state = p.rows("SELECT opportunity_id, current_stage, stage_changes FROM "
                   "{db}.opportunity_state FINAL ORDER BY opportunity_id")
    assert state == [(f"{a}-O", f"s{WAVES}", WAVES + 1) for a in accounts]
    latest = dict(history_records(p))  # the last value of each key: the recovered history
    for account in accounts:            # plus the change made after the restart
        value = latest[orjson.dumps(f"cmp|{account}-O")]
        assert value is not None
        editors = [change[10] for change in orjson.loads(value)]
        assert editors == [f"ed{w}" for w in range(WAVES + 1)], (account, editors)
