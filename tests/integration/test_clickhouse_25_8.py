"""Every migration, the worker's inserts and every view on ClickHouse 25.8, the line of the
compose's server, against the embedded engine (chdb 4.4, ClickHouse 26.9) on the same input.

No ClickHouse server runs here. chdb 3.7.2 is ClickHouse 25.8 in-process (the compose runs
25.8.8.26, a patch release of the same line). The test installs it once into a virtual
environment of its own, cached in ~/.cache/touchline-tests (the other packages chdb imports
come from this interpreter's environment), and runs tests/integration/chdb_runner.py with it and
with this interpreter on the same statements: every migration as `touchline sink init` applies
it, a plan, the worker's JSON blocks with the settings of the compose's server
(dashboards/clickhouse-init/touchline-settings.xml) and of the sink (a retried block among
them), then the rollups, the coaching rules at one moment and every other view.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import site
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pytest

from touchline.bench.payloads import CLEAN
from touchline.dashboards import alerts, coaching, ops, rep_view
from touchline.dashboards.local.catalog import dashboards
from touchline.dashboards.local.macros import ALL, QueryContext, expand
from touchline.dashboards.local.sqlcheck import expanded
from touchline.load.simulator import Simulator
from touchline.plan.loader import LOAD_ORDER, plan_tables, read_plans
from touchline.plan.rules import RULES
from touchline.schemas.activity import activity_adapter
from touchline.schemas.activity_row import activity_row
from touchline.sinks.clickhouse import INSERT_SETTINGS, JSON_INSERT_SETTINGS
from touchline.sinks.migrations import migration_files, statements
from touchline.sinks.rows import activities_json, json_block

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("chdb_runner.py")
#: ClickHouse 25.8.2.1
CHDB_25_8 = "3.7.2"
SERVER_SETTINGS = ROOT / "dashboards" / "clickhouse-init" / "touchline-settings.xml"
DB = "touchline"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
AT = f"toDateTime64('{NOW:%Y-%m-%d %H:%M:%S}', 3, 'UTC')"

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


def engine_25_8() -> Path:
    """The interpreter of a virtual environment with chdb `CHDB_25_8` (made once)."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = home / "touchline-tests" / f"chdb-{CHDB_25_8}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    building = venv.with_name(venv.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
    subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", "--no-deps", f"chdb=={CHDB_25_8}"],
                   check=True)
    # pandas and pyarrow, which chdb imports, from this environment (after the venv's own)
    own = next((building / "lib").glob("python3*/site-packages"))
    (own / "touchline_tests_parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    building.rename(venv)
    return python


def server_settings() -> dict[str, str]:
    """The default profile of the compose's server."""
    profile = ET.parse(SERVER_SETTINGS).getroot().find("profiles/default")
    assert profile is not None
    return {child.tag: (child.text or "").strip() for child in profile}


def _settings(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v!r}" if isinstance(v, str) and not v.isdigit() else f"{k} = {v}"
                     for k, v in values.items())


def _json_rows(rows: list[dict[str, Any]]) -> str:
    """Rows as a JSON array, times as epoch seconds (as the sink's JSON blocks carry them)."""
    def value(v: Any) -> Any:
        if not isinstance(v, dt.datetime):
            return v
        seconds = v.timestamp()
        return int(seconds) if seconds.is_integer() else seconds

    return orjson.dumps([{k: value(v) for k, v in r.items()} for r in rows]).decode()


def worker_rows(n: int, days: int = 14) -> list[dict[str, Any]]:
    """The rows the worker records for `n` simulated events of the last `days` days."""
    sim = Simulator(seed=5, tenant="acme", anomalies=CLEAN, teams=3)
    payloads = islice(sim.payloads(NOW - dt.timedelta(days=days), n / (days * 86400)), n)
    ingested = int(NOW.timestamp() * 1000)
    rows = []
    for offset, payload in enumerate(payloads):
        row = activity_row(activity_adapter.validate_json(payload))
        row.update(ingested_at=ingested, kafka_partition=0, kafka_offset=offset)
        rows.append(row)
    return rows


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


def run(python: Path | str, job: dict[str, list[str]]) -> dict[str, Any]:
    done = subprocess.run([str(python), str(RUNNER)], input=json.dumps(job), text=True,
                          capture_output=True, timeout=900, env=dict(os.environ, PYTHONPATH=""))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.integration
def test_migrations_inserts_and_views_on_clickhouse_25_8_as_on_the_embedded_engine():
    migrations = [st for _, sql in migration_files() for st in statements(sql, DB)]
    insert = {**server_settings(), **INSERT_SETTINGS, **JSON_INSERT_SETTINGS}
    (plan,) = read_plans(ROOT / "examples" / "plan.yaml")
    tables = plan_tables(plan, loaded_at=NOW - dt.timedelta(days=30))
    loads = [f"INSERT INTO touchline.{name} SETTINGS {_settings(insert)} FORMAT JSONEachRow "
             f"{_json_rows(tables[name].to_pylist())}" for name in LOAD_ORDER]
    rows = worker_rows(3000)
    blocks = [(f"b{k}", activities_json(rows[k:k + 500]).decode())
              for k in range(0, len(rows), 500)]
    blocks.append(blocks[2])  # a retried batch: dropped in the table and every rollup
    inserts = [f"INSERT INTO touchline.activities SETTINGS "
               f"{_settings({**insert, 'insert_deduplication_token': token})} "
               f"FORMAT JSONEachRow {block}" for token, block in blocks]
    views = view_queries(migrations)
    panels = dashboard_queries(rows[0]["team_id"], rows[0]["rep_id"])
    job = {"statements": [f"CREATE DATABASE IF NOT EXISTS {DB}", *migrations, *loads, *inserts,
                          *TIMES[0]],
           "queries": [*ROLLUPS, *RULE_QUERIES, *views, *panels, TIMES[1]]}

    old, new = run(engine_25_8(), job), run(sys.executable, job)

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
    assert old["results"][0] == [[3000, 3000]]  # every row once, the retry dropped
    assert old["results"][1] == new["results"][1] and old["results"][1] != []
    n = len(ROLLUPS) + len(RULE_QUERIES)
    assert old["results"][:n] == new["results"][:n]
    assert any(old["results"][len(ROLLUPS) + k] for k in range(len(RULE_QUERIES)))
    assert old["results"][len(ROLLUPS) - 1] != []  # rep_week_vs_target has rows
