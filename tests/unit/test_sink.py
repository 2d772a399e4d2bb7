"""The sink on the real embedded ClickHouse engine: migrations, idempotent inserts, queries."""

from __future__ import annotations

import pyarrow as pa
import pytest

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkUnavailable, SqlError
from touchline.sinks.migrations import migration_files
from touchline.sinks.rows import activities_table


@pytest.fixture
def sink(tmp_path):
    s = ClickHouseSink(f"chdb://{tmp_path / 'ch'}").start()
    yield s
    s.close()  # chdb: one engine path per process at a time


def _row(eid: str) -> dict:
    return {"event_id": eid, "tenant": "t", "type": "call", "occurred_at": 1_795_000_000_000,
            "source": "s", "rep_id": "r", "team_id": "tm", "account_id": "a",
            "prospect_id": "p", "opportunity_id": "", "cadence_id": "", "cadence_step": 0,
            "channel": "call", "is_touch": 1, "direction": "outbound", "outcome": "busy",
            "duration_s": 0, "email_action": "", "meeting_status": "", "from_stage": "",
            "to_stage": "", "disposition": "", "lead_status": "", "schema_version": 1,
            "ingested_at": 1_795_000_000_000, "kafka_partition": 0, "kafka_offset": 0}


@pytest.mark.integration
def test_migrations_are_idempotent(sink):
    assert sink.ensure_schema() == [v for v, _ in migration_files()]
    tables = sink.query("SHOW TABLES FROM touchline").rows
    assert sink.ensure_schema() == []
    assert sink.query("SHOW TABLES FROM touchline").rows == tables


@pytest.mark.integration
def test_insert_retry_with_same_token_is_dropped_and_mv_follows(sink):
    sink.ensure_schema()
    block = activities_table([_row("x1"), _row("x2")])
    sink.insert("activities", block, "act:0:1")
    sink.insert("activities", block, "act:0:1")       # a retry: dropped
    sink.insert("activities", activities_table([_row("x3")]), "act:0:2")
    assert sink.query("SELECT count() FROM touchline.activities").scalar() == 3
    assert sink.query("SELECT sum(touches) FROM touchline.touch_counts "
                      "WHERE entity_type = 'rep'").scalar() == 3


@pytest.mark.integration
def test_strings_are_data_not_sql(sink):
    sink.ensure_schema()
    nasty = "x'); DROP TABLE touchline.activities; --\\ \"ü"
    sink.insert("activities", activities_table([_row(nasty)]))
    got = sink.query("SELECT event_id FROM touchline.activities WHERE event_id = {e:String}",
                     {"e": nasty}).rows
    assert got == [(nasty,)]


@pytest.mark.integration
def test_read_only_queries_cannot_write(sink):
    sink.ensure_schema()
    with pytest.raises(SqlError, match="readonly|READONLY"):
        sink.query("INSERT INTO touchline.reps (tenant) VALUES ('x')", readonly=True)


def test_bad_dsn_is_a_clear_error():
    with pytest.raises(SinkUnavailable, match="unsupported ClickHouse DSN"):
        ClickHouseSink("mysql://x").start()


@pytest.mark.integration
def test_arrow_types_match_the_table(sink):
    sink.ensure_schema()
    assert activities_table([_row("a")]).schema.field("occurred_at").type == pa.timestamp(
        "ms", tz="UTC")


@pytest.mark.integration
def test_json_block_insert_is_exact_and_idempotent(sink):
    """The pipeline's activities insert: a JSON block parsed by ClickHouse, ms times exact."""
    from touchline.sinks.rows import activities_json

    sink.ensure_schema()
    times = [1_795_000_000_001, 1_795_000_000_999, 1_795_000_000_120, 1_700_000_000_007]
    rows = []
    for i, ms in enumerate(times):
        row = dict(_row(f"j{i}"), occurred_at=ms, ingested_at=ms + 5, motion="upsell",
                   product_line="payments", _origin="run:0", _line=i)
        rows.append(row)
    block = activities_json(rows)
    assert rows[0]["occurred_at"] == times[0]  # the rows themselves are not changed
    sink.insert_json("activities", block, "tok-json")
    sink.insert_json("activities", block, "tok-json")  # a retry: dropped
    got = sink.query(
        "SELECT event_id, toUnixTimestamp64Milli(occurred_at), "
        "toUnixTimestamp64Milli(ingested_at), motion, product_line FROM touchline.activities "
        "ORDER BY event_id").rows
    assert got == [(f"j{i}", ms, ms + 5, "upsell", "payments") for i, ms in enumerate(times)]
    touches = sink.query("SELECT sum(touches) FROM touchline.touch_counts "
                         "WHERE entity_type = 'rep'").scalar()
    assert touches == len(times)  # the MV saw the block once
    for rollup in ("activity_by_rep_hour", "arrivals_by_source_second"):  # and so did these
        events = sink.query(f"SELECT sum(events) FROM touchline.{rollup}").scalar()
        assert events == len(times), rollup


@pytest.mark.integration
def test_a_big_batch_is_inserted_in_blocks_and_a_retry_adds_nothing(sink, monkeypatch):
    from touchline.streams import recording

    sink.ensure_schema()
    monkeypatch.setattr(recording, "INSERT_BLOCK_ROWS", 3)
    batch = recording.BatchResult(rows=[_row(f"b{i}") for i in range(7)], token="t:0:5-9")
    batch.write(sink)
    batch.write(sink)  # the worker retries a write whose outcome it did not see
    assert sink.query("SELECT count(), uniqExact(event_id) FROM touchline.activities"
                      ).rows == [(7, 7)]
    assert sink.query("SELECT sum(touches) FROM touchline.touch_counts "
                      "WHERE entity_type = 'rep'").scalar() == 7
