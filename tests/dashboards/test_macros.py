"""Macro and variable expansion, as grafana-clickhouse-datasource does it (pure logic)."""

from __future__ import annotations

import datetime as dt

import pytest

from touchline.dashboards.local.macros import ALL, MacroError, QueryContext, expand

FROM = dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)
TO = dt.datetime(2026, 11, 2, 12, 30, tzinfo=dt.UTC)
CTX = QueryContext(FROM, TO, 300, {"tenant": "acme", "team": "o'neil", "rep": ["r1", "r2"]})


def test_time_macros_match_the_plugin_backend() -> None:
    f, t = int(FROM.timestamp()), int(TO.timestamp())
    assert expand("$__timeFilter(ts)", CTX) == f"ts >= toDateTime({f}) AND ts <= toDateTime({t})"
    assert expand("$__timeFilter_ms(ts)", CTX) == (
        f"ts >= fromUnixTimestamp64Milli({f * 1000}) "
        f"AND ts <= fromUnixTimestamp64Milli({t * 1000})")
    assert expand("$__dateFilter(d)", CTX) == (
        "d >= toDate('2026-11-01') AND d <= toDate('2026-11-02')")
    assert expand("$__timeInterval(ts)", CTX) == (
        "toStartOfInterval(toDateTime(ts), INTERVAL 300 second)")
    assert expand("$__fromTime|$__toTime|$__interval_s", CTX) == (
        f"toDateTime({f})|toDateTime({t})|300")


def test_interval_is_at_least_one_second() -> None:
    ctx = QueryContext(FROM, TO, 0)
    assert expand("$__interval_s", ctx) == "1"


def test_variables_use_the_plugin_formatter() -> None:
    # numbers raw, multi-values quoted and joined; :singlequote escapes quotes
    ctx = QueryContext(FROM, TO, 300, {"n": "42", "x": "-1.5"})
    assert expand("$n ${n} [[n]] ${x:raw}", ctx) == "42 42 42 -1.5"
    assert expand("${rep}", CTX) == "'r1','r2'"
    assert expand("${team:singlequote}", CTX) == "'o\\'neil'"
    assert expand("${rep:singlequote}", CTX) == "'r1','r2'"


def test_conditional_all_drops_the_condition_for_all() -> None:
    sql = "x AND $__conditionalAll(rep_id IN (${rep:singlequote}), $rep)"
    assert expand(sql, CTX) == "x AND rep_id IN ('r1','r2')"
    ctx_all = QueryContext(FROM, TO, 60, {"rep": ALL})
    assert expand(sql, ctx_all) == "x AND 1=1"


@pytest.mark.parametrize("sql", [
    "$__timeFilterr(ts)",            # unknown macro
    "$__timeFilter(a, b)",           # wrong arity
    "${teem}",                       # unknown variable
    "$__conditionalAll(x, $nope)",   # unknown variable in conditionalAll
    "${tenant:csvv}",                # unknown format
])
def test_typos_are_errors(sql: str) -> None:
    with pytest.raises(MacroError):
        expand(sql, CTX)


@pytest.mark.parametrize("sql", ["$tenant", "${tenant}", "[[tenant]]", "${tenant:raw}"])
def test_text_is_never_inserted_unquoted(sql: str) -> None:
    with pytest.raises(MacroError, match="singlequote"):
        expand(sql, QueryContext(FROM, TO, 60, {"tenant": "acme' OR 1=1 --"}))


def test_a_value_that_looks_like_a_macro_stays_text() -> None:
    ctx = QueryContext(FROM, TO, 300, {"tenant": "t$__interval_s", "team": "$__timeFilter(x"})
    assert expand("${tenant:singlequote} ${team:singlequote} $__interval_s", ctx) == (
        "'t$__interval_s' '$__timeFilter(x' 300")


def test_all_outside_conditional_all_is_an_error() -> None:
    with pytest.raises(MacroError):
        expand("rep_id IN (${rep:singlequote})", QueryContext(FROM, TO, 60, {"rep": ALL}))
