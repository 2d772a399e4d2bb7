"""Every panel and alert query runs on the real engine, returns the expected columns, prunes."""

from __future__ import annotations

import re

import pytest

from touchline.dashboards import alerts, coaching, ops, rep_view
from touchline.dashboards.local.catalog import CatalogPanel, dashboards
from touchline.dashboards.local.macros import ALL, QueryContext, expand
from touchline.dashboards.local.sqlcheck import (
    ColumnMismatch,
    describe,
    expanded,
    expect_columns,
    key_usage,
)
from touchline.dashboards.panels import PanelSpec
from touchline.sinks.errors import SqlError

SPECS: dict[tuple[str, str], PanelSpec] = {
    (module.UID, spec.title): spec
    for module in (ops, coaching, rep_view) for spec in module.PANELS
}
PANELS = [p for d in dashboards() for p in d.panels]
#: variable values to try per dashboard; a panel must show data for at least one of them
CONTEXTS = {
    ops.UID: [{"tenant": "acme"}],
    coaching.UID: [{"tenant": "acme", "team": t, "rep": r}
                   for t in ("team-east", "team-west") for r in (ALL, ["r-east-1", "r-west-1"])],
    rep_view.UID: [{"tenant": "acme", "rep": r} for r in ("r-east-2", "r-west-1", "r-east-1")],
}
#: time column of each table whose sorting key starts with (tenant or) time
TIME_KEYED = {"touchline.activities": "occurred_at", "touchline.touch_counts": "bucket",
              "touchline.arrivals_by_source_second": "ingested_second",
              "touchline.pipeline_metrics": "ts"}


def _id(p: CatalogPanel) -> str:
    return f"{p.dashboard_uid}:{p.title}"


def test_catalog_is_the_built_dashboards() -> None:
    assert len(PANELS) == len(SPECS)
    for p in PANELS:
        spec = SPECS[(p.dashboard_uid, p.title)]
        assert (p.sql, p.kind) == (spec.sql, spec.kind)


@pytest.mark.integration
@pytest.mark.parametrize("panel", PANELS, ids=_id)
def test_panel_query_returns_its_columns_and_data(seeded, panel: CatalogPanel) -> None:
    spec = SPECS[(panel.dashboard_uid, panel.title)]
    rows = 0
    for variables in CONTEXTS[panel.dashboard_uid]:
        sql = expanded(panel, variables, seeded.now)
        assert "$" not in sql
        expect_columns(seeded.sink, sql, spec.columns)
        rows += len(seeded.sink.query(sql).rows)
    assert rows > 0, "the panel shows nothing on the demo data"
    if panel.query_type == "timeSeries":
        assert spec.columns[0] == "time"
        types = dict(describe(seeded.sink, expanded(panel, CONTEXTS[panel.dashboard_uid][0])))
        assert types["time"].startswith("DateTime")


@pytest.mark.integration
@pytest.mark.parametrize("spec", alerts.ALERTS, ids=lambda s: s.uid)
def test_alert_query_returns_labels_and_one_value(seeded, spec: alerts.AlertSpec) -> None:
    sql = expand(spec.sql, QueryContext.last(spec.range_s, 1, now=seeded.now))
    cols = describe(seeded.sink, sql)
    numeric = [n for n, t in cols if re.search(r"U?Int\d+|Float\d+|Decimal", t)]
    assert numeric == [spec.value]
    assert all("String" in t for n, t in cols if n != spec.value)
    if spec.labels.get("audience") == "manager":
        assert {"team", "rep", "tenant"} <= {n for n, _ in cols}


@pytest.mark.integration
def test_a_typo_in_a_column_fails(seeded) -> None:
    panel = next(p for p in PANELS if p.title == "Touches by channel")
    broken = CatalogPanel(**{**panel.__dict__, "sql": panel.sql.replace("sum(touches)",
                                                                         "sum(touchs)")})
    with pytest.raises(SqlError, match="touchs"):
        seeded.sink.query(expanded(broken, {"tenant": "acme"}, seeded.now))


@pytest.mark.integration
def test_a_renamed_column_fails_the_column_check(seeded) -> None:
    panel = next(p for p in PANELS if p.title == "Lag by partition")
    spec = SPECS[(panel.dashboard_uid, panel.title)]
    sql = expanded(panel, {"tenant": "acme"}, seeded.now).replace("AS lag", "AS lags")
    with pytest.raises(ColumnMismatch, match="lags"):
        expect_columns(seeded.sink, sql, spec.columns)


@pytest.mark.integration
def test_a_typo_in_a_table_fails(seeded) -> None:
    sql = expand(alerts.ALERTS[0].sql.replace("rule_stuck_deals", "rule_stuck_deal"),
                 QueryContext.last(3600))
    with pytest.raises(SqlError):
        describe(seeded.sink, sql)


TIME_FILTERED = [p for p in PANELS if "$__timeFilter(" in p.sql]
TIME_FILTERED_ALERTS = [s for s in alerts.ALERTS if "$__timeFilter(" in s.sql]


def _check_pruning(sink, sql: str) -> int:
    checked = 0
    for table, reads in key_usage(sink, sql).items():
        for read in reads:
            if table in TIME_KEYED:
                assert TIME_KEYED[table] in read.get("PrimaryKey", []), (table, read)
                checked += 1
            elif table == "touchline.dlq_events":  # sorted by DLQ offset: pruned by min-max
                assert "failed_at" in read.get("Min-Max", []), read
                checked += 1
    return checked


@pytest.mark.integration
@pytest.mark.parametrize("panel", TIME_FILTERED, ids=_id)
def test_time_filter_uses_the_primary_key(seeded, panel: CatalogPanel) -> None:
    sql = expanded(panel, CONTEXTS[panel.dashboard_uid][0], seeded.now)
    assert _check_pruning(seeded.sink, sql) >= 1


@pytest.mark.integration
@pytest.mark.parametrize("spec", TIME_FILTERED_ALERTS, ids=lambda s: s.uid)
def test_alert_time_filter_uses_the_key(seeded, spec: alerts.AlertSpec) -> None:
    sql = expand(spec.sql, QueryContext.last(spec.range_s, 1, now=seeded.now))
    assert _check_pruning(seeded.sink, sql) >= 1


@pytest.mark.integration
def test_pruning_check_catches_a_filter_that_defeats_the_key(seeded) -> None:
    # filtering on arrival time only (not in the sorting key) reads every day of the tenant
    sql = ("SELECT count() FROM touchline.activities WHERE tenant = 'acme' AND "
           "ingested_at >= now() - INTERVAL 1 DAY")
    with pytest.raises(AssertionError):
        _check_pruning(seeded.sink, sql)
