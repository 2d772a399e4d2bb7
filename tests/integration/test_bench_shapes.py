"""The benchmark's generated history: what each shape promises of its rows, checked in a store.

The panels' numbers in docs/performance.md are only as meaningful as these rows: the dense
shape packs any rep's touches on any prospect into 30 days; the org shape gives each
prospect, account and deal one rep (the book's owner) and spreads rows over days at a rep's
daily pace, with the plan and the reps in force before the first row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from touchline.bench.queries import generate
from touchline.bench.shapes import SHAPES
from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack.services import free_port, start_store

pytestmark = pytest.mark.integration

ROWS = 200_000


@pytest.fixture
def store(tmp_path) -> Iterator[ClickHouseSink]:
    settings = Settings(data_dir=tmp_path, log_level="warn",
                        clickhouse=ClickHouseSettings(store_port=free_port()))
    service = start_store(settings)
    sink = ClickHouseSink(settings.store_url()).start()
    try:
        sink.ensure_schema()
        yield sink
    finally:
        sink.close()
        service.stop()


def _one(sink: ClickHouseSink, sql: str) -> tuple:
    return tuple(sink.query(sql).rows[0])


def _span_days(sink: ClickHouseSink) -> float:
    return float(sink.query("SELECT dateDiff('second', min(occurred_at), max(occurred_at)) / 86400 "
                            "FROM touchline.activities").scalar())


def test_org_shape_gives_each_prospect_account_and_deal_its_owner(store: ClickHouseSink) -> None:
    # one activity per rep per day: 200k rows are 100 days of history for 2,000 reps
    shape = dataclasses.replace(SHAPES["org"], per_rep_day=1)
    assert shape.days(ROWS) == 100
    generate(store.command, ROWS, shape=shape)

    assert int(store.query("SELECT count() FROM touchline.activities").scalar()) == ROWS
    assert 99.9 < _span_days(store) <= 100.0
    # every prospect, account and opportunity is worked by one rep only
    for column in ("prospect_id", "account_id", "opportunity_id"):
        assert _one(store, f"""SELECT countIf(reps > 1), count() FROM (
            SELECT {column}, uniqExact(rep_id) AS reps FROM touchline.activities
            WHERE {column} != '' GROUP BY {column})""")[0] == 0, column
    # ... and that rep is the book's owner of the account, in the account's team
    assert _one(store, """SELECT countIf(a.rep_id != b.owner_rep_id OR a.team_id != b.team_id),
                                 count()
        FROM (SELECT DISTINCT account_id, rep_id, team_id FROM touchline.activities) AS a
        INNER JOIN (SELECT account_id, owner_rep_id, team_id FROM touchline.accounts FINAL) AS b
            ON a.account_id = b.account_id""") == (0, _one(
        store, "SELECT uniqExact(account_id) FROM touchline.activities")[0])
    # the type mix is not tied to the rep: each of the 2,000 reps calls and emails
    assert _one(store, """SELECT countIf(calls > 0 AND emails > 0), count() FROM (
        SELECT rep_id, countIf(type = 'call') AS calls, countIf(type = 'email') AS emails
        FROM touchline.activities GROUP BY rep_id)""") == (2000, 2000)
    # the plan and the reps are in force before the first row
    first = "(SELECT min(occurred_at) FROM touchline.activities)"
    for table in ("plan_versions", "plan_stage_slas", "plan_tiers", "plan_activity_targets",
                  "plan_cadence_steps"):
        assert int(store.query(f"SELECT countIf(effective_from > {first}) + (count() = 0) "
                               f"FROM touchline.{table}").scalar()) == 0, table
    assert int(store.query(f"SELECT countIf(updated_at > {first}) FROM touchline.reps "
                           "FINAL").scalar()) == 0


def test_dense_shape_packs_any_rep_on_any_prospect_into_30_days(store: ClickHouseSink) -> None:
    generate(store.command, ROWS, shape="dense")

    assert int(store.query("SELECT count() FROM touchline.activities").scalar()) == ROWS
    assert 29.9 < _span_days(store) <= 30.0
    # a prospect's rows come from whichever rep: most prospects touched twice have two reps
    # (none in the org shape)
    shared, touched_twice = _one(store, """SELECT countIf(reps > 1), count() FROM (
        SELECT prospect_id, uniqExact(rep_id) AS reps FROM touchline.activities
        GROUP BY prospect_id HAVING count() > 1)""")
    assert touched_twice > 10_000 and shared > 0.8 * touched_twice
