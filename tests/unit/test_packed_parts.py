"""Small parts are written Packed (migration 0032) and keep every guarantee of the Full ones:
a retried block is dropped from the table and from every rollup, also after the engine
restarts, merges keep every row, and the by_rep projection still answers."""

from __future__ import annotations

import pytest

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.rows import activities_json

#: the tables one recorded batch writes a part into (activities, its view targets)
HOT_TABLES = ("activities", "touch_counts", "activity_by_rep_hour", "arrivals_by_source_second",
              "account_activity", "prospect_exits", "stage_names",
              "cadence_touches")


def _rows(start: int, n: int) -> list[dict]:
    return [{"event_id": f"e{i}", "tenant": "t",
             "type": ("disposition", "stage_change", "call", "call")[i % 4],
             "occurred_at": 1_795_000_000_000 + i * 1000, "source": "s", "rep_id": f"r{i % 3}",
             "team_id": "tm", "account_id": f"a{i % 5}", "prospect_id": f"p{i % 7}",
             "opportunity_id": "", "cadence_id": "c1" if i % 4 == 3 else "",
             "cadence_step": int(i % 4 == 3), "channel": "call",
             "is_touch": int(i % 4 > 1), "direction": "outbound", "outcome": "connected",
             "duration_s": 10, "email_action": "", "meeting_status": "", "from_stage": "",
             "to_stage": "proposal" if i % 4 == 1 else "",
             "disposition": "" if i % 4 else "qualify",
             "lead_status": "", "schema_version": 1, "ingested_at": 1_795_000_100_000 + i,
             "kafka_partition": 0, "kafka_offset": i} for i in range(start, start + n)]


def _open(path) -> ClickHouseSink:
    sink = ClickHouseSink(f"chdb://{path}").start()
    sink.ensure_schema()
    return sink


def _figures(sink: ClickHouseSink) -> tuple:
    def one(sql: str) -> int:
        return sink.query(sql).scalar()

    return (one("SELECT count() FROM touchline.activities"),
            one("SELECT sum(touches) FROM touchline.touch_counts WHERE entity_type = 'rep'"),
            one("SELECT sum(events) FROM touchline.activity_by_rep_hour"),
            one("SELECT sum(events) FROM touchline.arrivals_by_source_second"),
            one("SELECT sum(touches) FROM touchline.account_activity"),
            one("SELECT count() FROM touchline.prospect_exits"),
            one("SELECT sum(changes) FROM touchline.stage_names"),
            one("SELECT length(groupArrayMerge(step_times)) FROM touchline.cadence_touches"),
            one("SELECT count() FROM touchline.activities WHERE tenant = 't' AND rep_id = 'r1'"))


@pytest.mark.integration
def test_small_parts_are_packed_and_retries_are_still_dropped(tmp_path):
    sink = _open(tmp_path / "ch")
    blocks = [activities_json(_rows(k * 4, 4)) for k in range(6)]
    try:
        for k, block in enumerate(blocks):
            sink.insert_json("activities", block, f"b{k}:activities")
            sink.insert_json("activities", block, f"b{k}:activities")  # a retry: dropped
        storage = dict(sink.query(
            "SELECT table, groupUniqArray(part_storage_type) FROM system.parts "
            "WHERE database = 'touchline' AND active AND table IN {t:Array(String)} "
            "GROUP BY table", {"t": list(HOT_TABLES)}).rows)
        assert storage == {t: ["Packed"] for t in HOT_TABLES}
        expected = (24, 12, 24, 24, 12, 6, 6, 6, 8)
        assert _figures(sink) == expected
    finally:
        sink.close()

    sink = _open(tmp_path / "ch")  # the engine restarts: parts load, the dedup log too
    try:
        assert _figures(sink) == expected
        sink.insert_json("activities", blocks[2], "b2:activities")  # a late retry: dropped
        sink.command("OPTIMIZE TABLE touchline.activities FINAL")
        sink.command("OPTIMIZE TABLE touchline.touch_counts FINAL")
        assert _figures(sink) == expected
    finally:
        sink.close()
