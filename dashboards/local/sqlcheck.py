"""Run panel and alert SQL as Grafana would send it, and look at what ClickHouse does with it.

`expanded()` fills in macros and variables for a panel's default range; `describe()` returns the
result columns without reading data; `key_usage()` reads the plan of `EXPLAIN json = 1,
indexes = 1` to show which key columns each table read is pruned by.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from touchline.dashboards.local.catalog import CatalogPanel, dashboard
from touchline.dashboards.local.macros import QueryContext, VariableValue, expand
from touchline.sinks.clickhouse import ClickHouseSink

_RANGE = re.compile(r"now-(\d+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: Grafana aims at about this many points per time series panel
MAX_POINTS = 200


class ColumnMismatch(AssertionError):
    """A query returns other columns than its panel expects."""


def range_seconds(time_from: str) -> int:
    """Seconds in a relative range like `now-6h`."""
    m = _RANGE.fullmatch(time_from)
    if not m:
        raise ValueError(f"unsupported relative time {time_from!r}")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def panel_context(panel: CatalogPanel, variables: Mapping[str, VariableValue],
                  now: dt.datetime | None = None) -> QueryContext:
    """The dashboard's default range, an interval giving about MAX_POINTS points."""
    seconds = range_seconds(dashboard(panel.dashboard_uid).time_from)
    interval = max(seconds // MAX_POINTS, 1)
    return QueryContext.last(seconds, interval, variables, now)


def expanded(panel: CatalogPanel, variables: Mapping[str, VariableValue],
             now: dt.datetime | None = None) -> str:
    """The SQL Grafana would send for this panel."""
    return expand(panel.sql, panel_context(panel, variables, now))


def describe(sink: ClickHouseSink, sql: str) -> list[tuple[str, str]]:
    """(name, type) of every result column, without running the query."""
    result = sink.query(f"DESCRIBE TABLE ({sql})")
    return [(row[0], row[1]) for row in result.rows]


def expect_columns(sink: ClickHouseSink, sql: str, columns: tuple[str, ...]) -> None:
    """Raise ColumnMismatch unless the query returns exactly these columns, in order."""
    got = tuple(name for name, _ in describe(sink, sql))
    if got != tuple(columns):
        raise ColumnMismatch(f"expected columns {list(columns)}, got {list(got)}")


def key_usage(sink: ClickHouseSink, sql: str) -> dict[str, list[dict[str, list[str]]]]:
    """Per table read: index kind (PrimaryKey, Min-Max, Partition, Skip) -> its key columns.

    Every `ReadFromMergeTree` step of the plan counts, subqueries included; a table read twice
    has two entries. A skip index names no key columns.
    """
    plan = json.loads(sink.query(f"EXPLAIN json = 1, indexes = 1 {sql}").rows[0][0])
    reads: dict[str, list[dict[str, list[str]]]] = {}
    for step in _steps(plan[0]["Plan"]):
        if step.get("Node Type") != "ReadFromMergeTree":
            continue
        used: dict[str, list[str]] = {}
        for index in step.get("Indexes", []):
            used.setdefault(index["Type"].replace("MinMax", "Min-Max"), []).extend(
                index.get("Keys", []))
        reads.setdefault(step["Description"], []).append(used)
    return reads


def _steps(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A plan step and every step below it."""
    yield node
    for child in node.get("Plans", []):
        yield from _steps(child)
