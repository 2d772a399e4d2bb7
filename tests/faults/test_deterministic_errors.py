"""Invariant: a block ClickHouse refuses for its content is never retried forever.

- Through the real pipeline (broker, worker, store): one raw message whose events span 130
  months (history sorted oldest first) exceeds ClickHouse's `max_partitions_per_insert_block`
  (100). The worker used to retry that insert forever (its offset never committed); now the
  block is split and every event is recorded once, none dead-lettered.
- On the real store: a JSON block with one value of the wrong type goes in without that row;
  the row comes back from `take_rejected()` with ClickHouse's reason (the worker sends it to
  the DLQ as `sink_rejected`), and a replay of the same block with the same token adds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack.services import free_port, start_store

pytestmark = [pytest.mark.integration, pytest.mark.faults]

MONTHS = 130


def _monthly_history() -> list[bytes]:
    """One email per month from January 2012, oldest first, all valid."""
    out = []
    for i in range(MONTHS):
        at = datetime(2012 + i // 12, i % 12 + 1, 15, 12, 0, tzinfo=UTC)
        out.append(orjson.dumps({
            "event_id": f"hist-{i:03d}", "tenant": "hist", "type": "email",
            "occurred_at": at.isoformat(), "source": "crm-import", "rep_id": "rep-1",
            "team_id": "team-1", "account_id": "acct-1", "action": "sent"}))
    return out


def test_history_over_more_months_than_one_insert_may_touch_goes_in_whole(pipeline_factory):
    p = pipeline_factory(partitions=1)
    p.produce(_monthly_history(), batch=MONTHS)  # one raw message
    p.wait_rows("activities", MONTHS, 180)
    p.wait_settled()
    assert p.scalar("SELECT count() FROM {db}.activities WHERE tenant = 'hist'") == MONTHS
    assert p.scalar("SELECT uniqExact(toYYYYMM(occurred_at)) FROM {db}.activities") == MONTHS
    assert p.scalar("SELECT count() FROM {db}.dlq_events") == 0
    assert "retrying" not in p.worker().log.read_text(errors="replace")


def test_a_row_of_the_wrong_type_is_set_aside_and_the_rest_goes_in(tmp_path):
    settings = Settings(data_dir=tmp_path, clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    sink = ClickHouseSink(settings.store_url()).start()
    try:
        sink.command("CREATE TABLE touchline.probe (id String, n UInt32) ENGINE = MergeTree "
                     "ORDER BY id SETTINGS non_replicated_deduplication_window = 100")
        rows = [{"id": f"r{i}", "n": i} for i in range(9)]
        rows[5] = {"id": "r5", "n": "not a number"}
        body = orjson.dumps(rows)
        sink.insert_json("probe", body, "block-1")
        rejected = sink.take_rejected()
        assert [(r.table, r.row) for r in rejected] == [
            ("probe", {"id": "r5", "n": "not a number"})]
        assert "Cannot parse input" in rejected[0].error and "key n" in rejected[0].error
        got = sink.query("SELECT id, n FROM touchline.probe ORDER BY id").rows
        assert got == [(f"r{i}", i) for i in range(9) if i != 5]
        sink.insert_json("probe", body, "block-1")  # a replay: same split, same tokens
        assert len(sink.take_rejected()) == 1
        assert sink.query("SELECT count() FROM touchline.probe").scalar() == 8
    finally:
        sink.close()
        store.stop()
