"""Committed migrations keep their statements: a store that applied one keeps what it applied.

`COMMITTED` is each migration's checksum (sinks/migrations.py `checksum`: its statements, not
its comment lines or layout). A new migration is added here; a change to a committed one fails here
first. If no store can have applied the earlier text, update its line; otherwise write a new
migration, or stores refuse to start until `touchline sink init --reapply-changed`.
"""

from __future__ import annotations

import pytest

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import MigrationChanged
from touchline.sinks.migrations import EARLIER_TEXTS, _text_checksum, checksum, migration_files

COMMITTED = {
    "0001_activities": "s1:ecf84e3b983c3d9d",
    "0002_touch_counts": "s1:6e1f0a12bbd62013",
    "0003_stages": "s1:eb0e19d8f7a7aab2",
    "0004_ops": "s1:2eab248bdb0e432d",
    "0005_plans_and_signals": "s1:0b29eeef9e5f6179",
    "0007_plan_inspect": "s1:c4611a233f99c92a",
    "0008_motion_product_line": "s1:a9952d2e163286f5",
    "0009_motion_variation": "s1:c4d5a404445b0bcb",
    "0010_panel_rollups": "s1:5f72d83af27dc44c",
    "0011_org": "s1:d156d97ff4fb5409",
    "0012_stage_outcome": "s1:9dfb05e7aa7f49c0",
    "0013_rules": "s1:326379b3322d4c72",
    "0014_notifications": "s1:d3b27847d209e53a",
    "0020_open_deal_dwell": "s1:985d68e5c41be528",
    "0021_account_activity": "s1:d45782d9137d1581",
    "0030_speed_to_lead_weeks": "s1:59d06ca07205f93a",
    "0031_stage_stays": "s1:5e3ada5831b48041",
    "0032_packed_small_parts": "s1:37098b969527bc67",
    "0033_prospect_exits": "s1:0ba2f55fd14d353f",
    "0034_stage_names": "s1:e999f852e94c8e37",
    "0035_accounts_book": "s1:1ae739e3844947a0",
    "0036_deal_accounts": "s1:37450c6d06d6ab4b",
    "0037_cadence_behind_ties": "s1:e3d9a13530d90231",
    "0038_activity_plan_team": "s1:f52848ffdf60950e",
    "0039_rep_week_team": "s1:4ee100b75ea3bc19",
    "0040_activity_plan_window": "s1:3cf50377b8ef9580",
    "0042_cadence_starts": "s1:c2c620520413f721",
    "0043_scoped_rule_views": "s1:1d8b4dbd32e0e6e0",
    "0044_deal_last_activity": "s1:514f7e9ea0a023a5",
    "0045_leads_over_sla_window": "s1:75d496fd73246e85",
    "0046_lead_first_touch": "s1:81158d8c9bf4d60b",
    "0047_cadence_touches": "s1:e149272bd7cb434a",
    "0048_idle_rep_last_touch": "s1:a064725f641d7aaf",
    "0049_activity_plan_once": "s1:b893dc67d01aa826",
    "0050_open_deals_once": "s1:31a1fe94385bd10e",
    "0051_prospect_dispositions_view": "s1:196260767e34df6b",
    "0052_activity_plan_types": "s1:b98cc290da8228bf",
    "0053_accepted_events": "s1:1ea5cc71d769cb53",
}


def test_every_migration_has_its_committed_checksum() -> None:
    found = {version: checksum(sql) for version, sql in migration_files()}
    assert found == COMMITTED


def test_comments_and_layout_do_not_change_a_checksum() -> None:
    sql = "-- a table\nCREATE TABLE IF NOT EXISTS {db}.t (x UInt8)\nENGINE = Memory;\n"
    same = "CREATE TABLE IF NOT EXISTS {db}.t (x UInt8) ENGINE = Memory;\n-- more\n"
    other = "CREATE TABLE IF NOT EXISTS {db}.t (x UInt16)\nENGINE = Memory;\n"
    assert checksum(sql) == checksum(same) != checksum(other)
    assert checksum(sql).startswith("s1:") and _text_checksum(sql) != _text_checksum(same)


def test_earlier_texts_are_of_other_statements_than_the_committed_ones() -> None:
    for version, earlier in EARLIER_TEXTS.items():
        assert COMMITTED[version] not in earlier and len(earlier) == 2


@pytest.mark.integration
def test_a_store_that_applied_an_earlier_text_starts_and_a_changed_one_is_refused(tmp_path):
    sink = ClickHouseSink(f"chdb://{tmp_path / 'ch'}").start()
    try:
        sink.ensure_schema()

        def record(version: str, value: str) -> None:
            sink.command("INSERT INTO touchline.schema_migrations (version, checksum, applied_at) "
                         f"VALUES ('{version}', '{value}', now64(3) + 1)")

        for version, earlier in EARLIER_TEXTS.items():
            for value in sorted(earlier):  # a store of the code before, either checksum kind
                record(version, value)
                assert sink.ensure_schema() == []
        record("0011_org", "s1:0000000000000000")  # a text no code ever had
        with pytest.raises(MigrationChanged, match="migration 0011_org changed"):
            sink.ensure_schema()
    finally:
        sink.close()
