"""Every migration, the worker's inserts and every view on ClickHouse 25.8, the line of the
compose's server, against the embedded engine (chdb 4.4, ClickHouse 26.9) on the same input.

tests/engine_25_8.py runs both engines in-process (chdb 3.7.2 is ClickHouse 25.8) on a store
as the compose makes it (`seed`): every migration, a plan and two rows of every other table the
sink writes as Arrow, the worker's JSON blocks with the server's and the sink's settings, a
retried block among them. Then the rollups, the coaching rules at one moment, the Arrow tables'
rows, the times of a JSON block around both of its forms, every other view and every panel and
alert query as Grafana sends them.
"""

from __future__ import annotations

import re
import sys

import orjson
import pytest

from tests.engine_25_8 import (
    ARROW_TABLES,
    AT,
    EVENTS,
    NOW,
    interpreter,
    migration_statements,
    run,
    seed,
    worker_rows,
)
from touchline.dashboards import alerts, coaching, ops, rep_view
from touchline.dashboards.local.catalog import dashboards
from touchline.dashboards.local.macros import ALL, QueryContext, expand
from touchline.dashboards.local.sqlcheck import expanded
from touchline.plan.rules import RULES
from touchline.sinks.rows import json_block

#: what the rollups hold, compared between the engines (merge-independent aggregates)
ROLLUPS = (
    "SELECT count(), uniqExact(event_id) FROM touchline.activities",
    "SELECT entity_type, sum(touches) FROM touchline.touch_counts "
    "GROUP BY entity_type ORDER BY entity_type",
    "SELECT sum(events), sum(touches), sum(call_attempts), sum(emails_sent), "
    "sum(meetings_held), uniqExactMerge(prospects_touched) FROM touchline.activity_by_rep_hour",
    "SELECT source, sum(events) FROM touchline.arrivals_by_source_second GROUP BY source",
    "SELECT uniqExact(account_id), sum(touches), max(last_touch_at) "
    "FROM touchline.account_activity",
    "SELECT reason, count() FROM touchline.prospect_exits GROUP BY reason ORDER BY reason",
    "SELECT stage, sum(changes) FROM touchline.stage_names GROUP BY stage ORDER BY stage",
    "SELECT uniqExact(opportunity_id), max(last_seen_at) FROM touchline.opportunity_activity",
    "SELECT uniqExact(tenant, cadence_id, prospect_id, rep_id), "
    "length(groupArrayMerge(step_times)) FROM touchline.cadence_touches",
    "SELECT count(), max(last_at) FROM touchline.prospect_dispositions",
    "SELECT rep_id, activity, week_start, actual, target FROM touchline.rep_week_vs_target "
    "ORDER BY rep_id, activity, week_start",
)
#: epoch ms around the two forms of `ms_text` (10-digit seconds from 2001-09-09; 1900 is the
#: earliest DateTime64 holds)
TIMES_MS = (1_765_000_000_244, 1_765_000_000_000, 1_765_000_000_001, 10**12, 10**12 - 1,
            631_152_000_007, 1, 0, -1, -2_208_988_800_000, 4_102_444_799_999)
#: the statements writing them through the worker's JSON block, and the query reading them
TIMES = (["CREATE TABLE touchline.times_check (i UInt8, at DateTime64(3, 'UTC')) "
          "ENGINE = MergeTree ORDER BY i",
          "INSERT INTO touchline.times_check FORMAT JSONEachRow "
          + json_block([{"i": i, "at": ms} for i, ms in enumerate(TIMES_MS)], ("at",)).decode()],
         "SELECT groupArray(toUnixTimestamp64Milli(at)) FROM "
         "(SELECT at FROM touchline.times_check ORDER BY i)")
#: each coaching rule's entities at one moment, every tenant
RULE_QUERIES = tuple(
    f"SELECT tenant, {', '.join(rule.entity)} FROM touchline.{rule.view}"
    f"(tenant = '', now = {AT}) ORDER BY ALL" for rule in RULES)


def view_queries(migrations: list[str]) -> list[str]:
    """One read of every view the migrations leave, parameterized ones at `NOW` for 'acme'."""
    views: dict[str, str] = {}
    for text in migrations:
        created = re.match(r"CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?touchline\.(\w+) AS",
                           text)
        dropped = re.fullmatch(r"DROP (?:VIEW|TABLE) IF EXISTS touchline\.(\w+)", text)
        if created:
            views[created.group(1)] = text
        elif dropped:
            views.pop(dropped.group(1), None)
    out = []
    for name, text in sorted(views.items()):
        params = dict(re.findall(r"\{(\w+):([^}]+)\}", text))
        args = ", ".join(f"{p} = {AT}" if kind.startswith("DateTime") else
                         f"{p} = 'acme'" if p == "tenant" else
                         f"{p} = ''" if kind == "String" else f"{p} = 0"
                         for p, kind in params.items())
        source = f"touchline.{name}({args})" if params else f"touchline.{name}"
        out.append(f"SELECT count() FROM (SELECT * FROM {source} LIMIT 100)")
    return out


def dashboard_queries(team: str, rep: str) -> list[str]:
    """Every panel's query as Grafana sends it for tenant 'acme' (the coaching dashboard for
    `team` and all its reps, the rep's view for `rep`) at `NOW`, and every alert rule's."""
    variables = {ops.UID: {"tenant": "acme"},
                 coaching.UID: {"tenant": "acme", "team": team, "rep": ALL},
                 rep_view.UID: {"tenant": "acme", "rep": rep}}
    panels = [expanded(p, variables[d.uid], NOW) for d in dashboards() for p in d.panels]
    return [*panels, *(expand(a.sql, QueryContext.last(a.range_s, 1, now=NOW))
                       for a in alerts.ALERTS)]


@pytest.mark.integration
def test_migrations_inserts_and_views_on_clickhouse_25_8_as_on_the_embedded_engine(tmp_path):
    rows = worker_rows()
    views = view_queries(migration_statements())
    first = orjson.loads(rows[0]["_event_json"])["event"]  # the event as the worker sent it
    panels = dashboard_queries(first["team_id"], first["rep_id"])
    typed = [f"SELECT {', '.join(columns)} FROM touchline.{table} ORDER BY ALL"
             for table, columns in ARROW_TABLES.items()]
    job = {"statements": [*seed(rows, tmp_path), *TIMES[0]],
           "queries": [*ROLLUPS, *RULE_QUERIES, *typed, *views, *panels, TIMES[1]]}

    old, new = run(interpreter(), job), run(sys.executable, job)

    assert old["version"].startswith("25.8.") and new["version"].startswith("26.9.")
    assert old["failed"] == [] and new["failed"] == []
    for report in (old, new):  # every query answered, on both engines
        errors = [(q, r) for q, r in zip(job["queries"], report["results"], strict=True)
                  if isinstance(r, dict)]
        assert errors == []
    assert len(panels) > 30
    for view in ("rep_week_vs_target", "rep_activity_vs_plan", *(r.view for r in RULES)):
        assert any(f"touchline.{view}" in q for q in views), view
    assert old["results"][-1] == new["results"][-1] == [[list(TIMES_MS)]]  # every time exact
    assert old["results"][0] == [[EVENTS, EVENTS]]  # every row once, the retry dropped
    assert old["results"][1] == new["results"][1] and old["results"][1] != []
    n = len(ROLLUPS) + len(RULE_QUERIES)
    assert old["results"][:n] == new["results"][:n]
    arrow = old["results"][n:n + len(typed)]  # every Arrow table's two rows, the same on both
    assert arrow == new["results"][n:n + len(typed)] and all(len(t) == 2 for t in arrow)
    assert any(old["results"][len(ROLLUPS) + k] for k in range(len(RULE_QUERIES)))
    assert old["results"][len(ROLLUPS) - 1] != []  # rep_week_vs_target has rows
