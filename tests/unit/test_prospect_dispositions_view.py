"""`prospect_dispositions` is a plain view of `activities` since 0051: no insert feeds it, it
answers what 0010's rollup answered, also for a store upgraded with that rollup filled."""

from __future__ import annotations

import pytest

from touchline.sinks import migrations
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.rows import activities_json

#: what each prospect's dispositions read as (`max(last_at)`), in one order
READ = ("SELECT tenant, prospect_id, disposition, max(last_at) AS at "
        "FROM touchline.prospect_dispositions GROUP BY tenant, prospect_id, disposition "
        "ORDER BY tenant, prospect_id, disposition")
T0 = 1_795_000_000_000


def _rows(start: int, n: int) -> list[dict]:
    """Every second event a disposition; prospects and dispositions repeat with new times."""
    return [{"event_id": f"e{i}", "tenant": ("t1", "t2")[i % 2],
             "type": "disposition" if i % 4 < 2 else "call",
             "occurred_at": T0 + ((i * 7919) % 1000) * 1000, "source": "s",
             "rep_id": "r1", "team_id": "tm", "account_id": "a1", "prospect_id": f"p{i % 5}",
             "opportunity_id": "", "cadence_id": "", "cadence_step": 0, "channel": "call",
             "is_touch": int(i % 4 >= 2), "direction": "outbound", "outcome": "connected",
             "duration_s": 10, "email_action": "", "meeting_status": "", "from_stage": "",
             "to_stage": "", "disposition": ("qualify", "archive", "postpone")[i % 3]
             if i % 4 < 2 else "", "lead_status": "", "schema_version": 1,
             "ingested_at": T0 + 100_000 + i, "kafka_partition": 0, "kafka_offset": i}
            for i in range(start, start + n)]


def _expected(rows: list[dict]) -> list[tuple]:
    latest: dict[tuple, int] = {}
    for r in rows:
        if r["type"] == "disposition":
            key = (r["tenant"], r["prospect_id"], r["disposition"])
            latest[key] = max(latest.get(key, 0), r["occurred_at"])
    return sorted(latest.items())


def _read(sink: ClickHouseSink) -> list[tuple]:
    return [((t, p, d), int(at.timestamp() * 1000)) for t, p, d, at in sink.query(READ).rows]


@pytest.mark.integration
def test_an_upgraded_store_reads_the_same_dispositions_and_no_insert_feeds_them(
        tmp_path, monkeypatch):
    before_0051 = [f for f in migrations.migration_files() if f[0] < "0051"]
    sink = ClickHouseSink(f"chdb://{tmp_path / 'ch'}").start()
    try:
        with monkeypatch.context() as m:  # a store of the code before 0051
            m.setattr(migrations, "migration_files", lambda: before_0051)
            sink.ensure_schema()
        first = _rows(0, 40)
        sink.insert_json("activities", activities_json(first), "b0:activities")
        old_rollup = _read(sink)
        assert old_rollup == _expected(first) and len(old_rollup) == 20

        assert "0051_prospect_dispositions_view" in sink.ensure_schema()
        assert _read(sink) == old_rollup  # the upgrade keeps what was read
        kinds = dict(sink.query(
            "SELECT name, engine FROM system.tables WHERE database = 'touchline' "
            "AND name LIKE 'prospect_dispositions%'").rows)
        assert kinds == {"prospect_dispositions": "View"}
        feeding = sink.query(
            "SELECT name FROM system.tables WHERE database = 'touchline' "
            "AND engine = 'MaterializedView' "
            "AND position(create_table_query, 'prospect_dispositions') > 0").rows
        assert feeding == []

        later = _rows(40, 40)  # new times for the same prospects and dispositions
        block = activities_json(later)
        sink.insert_json("activities", block, "b1:activities")
        sink.insert_json("activities", block, "b1:activities")  # a retry: dropped
        assert _read(sink) == _expected(first + later)
        assert _read(sink) != old_rollup
    finally:
        sink.close()
