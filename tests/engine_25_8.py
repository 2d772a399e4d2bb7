"""ClickHouse 25.8 (the compose's server line) in-process, for the tests that compare it with the
embedded engine (chdb 4.4, ClickHouse 26.9).

No ClickHouse server runs here. chdb 3.7.2 is ClickHouse 25.8 in-process (the compose runs
25.8.8.26, a patch release of the same line). `interpreter()` installs it once into a virtual
environment of its own, cached in ~/.cache/touchline-tests (the other packages chdb imports
come from this interpreter's environment), and `run` hands tests/integration/chdb_runner.py a
job: statements, then queries, on a fresh data directory. `seed()` is a store as the compose
makes it: every migration as `touchline sink init` applies it, the example plan, and the
worker's JSON blocks of a 14-day simulated org with the settings of the compose's server
(dashboards/clickhouse-init/touchline-settings.xml) and of the sink, a retried block among them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import site
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from touchline.bench.payloads import CLEAN
from touchline.load.simulator import Simulator
from touchline.plan.loader import LOAD_ORDER, plan_tables, read_plans
from touchline.schemas.activity import activity_adapter
from touchline.schemas.activity_row import activity_row
from touchline.sinks.clickhouse import INSERT_SETTINGS, JSON_INSERT_SETTINGS
from touchline.sinks.migrations import checksum, ledger_ddl, migration_files, statements
from touchline.sinks.rows import activities_json, ms_text

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "integration" / "chdb_runner.py"
#: ClickHouse 25.8.2.1
CHDB_25_8 = "3.7.2"
SERVER_SETTINGS = ROOT / "dashboards" / "clickhouse-init" / "touchline-settings.xml"
DB = "touchline"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
#: `NOW` as a ClickHouse expression
AT = f"toDateTime64('{NOW:%Y-%m-%d %H:%M:%S}', 3, 'UTC')"
#: the simulated events of `seed`
EVENTS = 3000


def interpreter() -> Path:
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


def run(python: Path | str, job: dict[str, list[Any]]) -> dict[str, Any]:
    """The runner's report of `job` on the chdb of `python`."""
    done = subprocess.run([str(python), str(RUNNER)], input=json.dumps(job), text=True,
                          capture_output=True, timeout=900, env=dict(os.environ, PYTHONPATH=""))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def server_settings() -> dict[str, str]:
    """The default profile of the compose's server."""
    profile = ET.parse(SERVER_SETTINGS).getroot().find("profiles/default")
    assert profile is not None
    return {child.tag: (child.text or "").strip() for child in profile}


def settings_clause(values: dict[str, Any]) -> str:
    """`name = value, ...` for a SETTINGS clause."""
    return ", ".join(f"{k} = {v!r}" if isinstance(v, str) and not v.isdigit() else f"{k} = {v}"
                     for k, v in values.items())


def json_rows(rows: list[dict[str, Any]]) -> str:
    """Rows as a JSON array, times as the worker's JSON blocks carry them (`ms_text`)."""
    def value(v: Any) -> Any:
        return ms_text(round(v.timestamp() * 1000)) if isinstance(v, dt.datetime) else v

    return orjson.dumps([{k: value(v) for k, v in r.items()} for r in rows]).decode()


def worker_rows(n: int = EVENTS, days: int = 14) -> list[dict[str, Any]]:
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


def migration_statements() -> list[str]:
    """Every statement of every migration, in order, for database `DB`."""
    return [st for _, sql in migration_files() for st in statements(sql, DB)]


def seed(rows: list[dict[str, Any]]) -> list[str]:
    """The statements of a store as the compose makes it, with `rows` recorded by the worker.

    Every migration and its line in `schema_migrations`, the example plan, `rows` in blocks of
    500 (the third one sent twice, as a retried batch is), each with the server's settings and
    the sink's.
    """
    insert = {**server_settings(), **INSERT_SETTINGS, **JSON_INSERT_SETTINGS}
    (plan,) = read_plans(ROOT / "examples" / "plan.yaml")
    tables = plan_tables(plan, loaded_at=NOW - dt.timedelta(days=30))
    loads = [f"INSERT INTO {DB}.{name} SETTINGS {settings_clause(insert)} FORMAT JSONEachRow "
             f"{json_rows(tables[name].to_pylist())}" for name in LOAD_ORDER]
    blocks = [(f"b{k}", activities_json(rows[k:k + 500]).decode())
              for k in range(0, len(rows), 500)]
    blocks.append(blocks[2])
    inserts = [f"INSERT INTO {DB}.activities SETTINGS "
               f"{settings_clause({**insert, 'insert_deduplication_token': token})} "
               f"FORMAT JSONEachRow {block}" for token, block in blocks]
    ledger = ", ".join(f"('{version}', '{checksum(sql)}')" for version, sql in migration_files())
    return [f"CREATE DATABASE IF NOT EXISTS {DB}", ledger_ddl(DB), *migration_statements(),
            f"INSERT INTO {DB}.schema_migrations (version, checksum) VALUES {ledger}",
            *loads, *inserts]
