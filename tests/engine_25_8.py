"""ClickHouse 25.8 (the compose's server line) in-process, for the tests that compare it with the
embedded engine (chdb 4.4, ClickHouse 26.9).

No ClickHouse server runs here. chdb 3.7.2 is ClickHouse 25.8 in-process (the compose runs
25.8.8.26, a patch release of the same line). `interpreter()` installs it once into a virtual
environment of its own, cached in ~/.cache/touchline-tests (the other packages chdb imports
come from this interpreter's environment), and `run` hands tests/integration/chdb_runner.py a
job: statements, then queries, on a fresh data directory. `seed()` is a store as the compose
makes it: every migration as `touchline sink init` applies it, the example plan and two rows of
every other table the sink writes as Arrow, and the worker's JSON blocks of a 14-day simulated
org, all with the settings of the compose's server
(dashboards/clickhouse-init/touchline-settings.xml) and of the sink, a retried block among them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import xml.etree.ElementTree as ET
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc

from touchline.bench.payloads import CLEAN
from touchline.bench.peers.environment import cached_venv
from touchline.load.simulator import Simulator
from touchline.plan.loader import LOAD_ORDER, plan_tables, read_plans
from touchline.schemas.activity import activity_adapter
from touchline.schemas.activity_row import accepted_row
from touchline.sinks.clickhouse import INSERT_SETTINGS, JSON_INSERT_SETTINGS
from touchline.sinks.dimensions import ACCOUNT_COLUMNS, REP_COLUMNS
from touchline.sinks.migrations import checksum, ledger_ddl, migration_files, statements
from touchline.sinks.rows import (
    DEAD_LETTER_COLUMNS,
    METRIC_COLUMNS,
    OPPORTUNITY_STATE_COLUMNS,
    STAGE_VISIT_COLUMNS,
    accepted_events_json,
    arrow_table,
)

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
#: the tables the sink writes as Arrow, with their columns (besides the plan's)
ARROW_TABLES = {"stage_visits": STAGE_VISIT_COLUMNS,
                "opportunity_state": OPPORTUNITY_STATE_COLUMNS, "dlq_events": DEAD_LETTER_COLUMNS,
                "pipeline_metrics": METRIC_COLUMNS, "reps": REP_COLUMNS,
                "accounts": ACCOUNT_COLUMNS}
#: a value of each column kind of sinks/rows.py, for the two rows `typed_rows` makes (a `?`
#: kind is null in the second; times within the tables' TTLs)
NOW_MS = int(NOW.timestamp() * 1000)
KIND_VALUES = {"str": ("v", "w"), "ts": (NOW_MS - 61_244, NOW_MS - 3_600_000),
               "ts?": (NOW_MS - 1_001, None), "u8": (1, 0), "u16": (7, 65_535),
               "u32": (7, 4_000_000_000), "u64": (7, 2**63), "i32": (-3, 3), "i64": (-3, 2**40),
               "f64": (1.5, -0.25), "f64?": (2.5, None)}


def interpreter() -> Path:
    """The interpreter of a virtual environment with chdb `CHDB_25_8` (made once)."""
    python = cached_venv("touchline-tests", f"chdb-{CHDB_25_8}", [f"chdb=={CHDB_25_8}"],
                         ["--no-deps"])  # pandas and pyarrow, which chdb imports, from here
    assert python is not None, f"pip could not install chdb {CHDB_25_8}"
    return python


def run(python: Path | str, job: dict[str, list[Any]]) -> dict[str, Any]:
    """The runner's report of `job` on the chdb of `python`."""
    done = subprocess.run([str(python), str(RUNNER)], input=json.dumps(job), text=True,
                          capture_output=True, timeout=900, env=dict(os.environ, PYTHONPATH=""))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def server_settings(path: Path = SERVER_SETTINGS) -> dict[str, str]:
    """The default profile of the compose's server (the users.d file at `path`)."""
    profile = ET.parse(path).getroot().find("profiles/default")
    assert profile is not None
    return {child.tag: (child.text or "").strip() for child in profile}


def settings_clause(values: dict[str, Any]) -> str:
    """`name = value, ...` for a SETTINGS clause."""
    return ", ".join(f"{k} = {v!r}" if isinstance(v, str) and not v.isdigit() else f"{k} = {v}"
                     for k, v in values.items())


def worker_rows(n: int = EVENTS, days: int = 14) -> list[dict[str, Any]]:
    """The rows the worker records for `n` simulated events of the last `days` days."""
    sim = Simulator(seed=5, tenant="acme", anomalies=CLEAN, teams=3)
    payloads = islice(sim.payloads(NOW - dt.timedelta(days=days), n / (days * 86400)), n)
    ingested = int(NOW.timestamp() * 1000)
    rows = []
    for offset, payload in enumerate(payloads):
        row = accepted_row(activity_adapter.validate_json(payload), payload)
        row.update(ingested_at=ingested, kafka_partition=0, kafka_offset=offset)
        rows.append(row)
    return rows


def migration_statements() -> list[str]:
    """Every statement of every migration, in order, for database `DB`."""
    return [st for _, sql in migration_files() for st in statements(sql, DB)]


def typed_rows(columns: dict[str, str]) -> pa.Table:
    """Two rows of every column kind, as the sink's Arrow tables carry them (`arrow_table`)."""
    return arrow_table([{name: KIND_VALUES[kind][k] for name, kind in columns.items()}
                        for k in (0, 1)], columns)


def arrow_insert(table: str, data: pa.Table, directory: Path, settings: dict[str, Any]) -> str:
    """An insert of `data` into `table`, as the sink sends it (Arrow), from a file it writes."""
    path = directory / f"{table}.arrows"
    with pa.ipc.new_stream(path, data.schema) as out:
        out.write_table(data)
    names = ", ".join(data.column_names)
    return (f"INSERT INTO {DB}.{table} ({names}) SETTINGS {settings_clause(settings)} "
            f"SELECT {names} FROM file('{path}', 'ArrowStream')")


def json_insert(table: str, block: bytes, token: str) -> str:
    """An insert of a JSON block into `table` as the sink sends it.

    With the compose's server settings and the sink's, and the block's deduplication token.
    """
    settings = {**server_settings(), **INSERT_SETTINGS, **JSON_INSERT_SETTINGS,
                "insert_deduplication_token": token}
    return (f"INSERT INTO {DB}.{table} SETTINGS {settings_clause(settings)} "
            f"FORMAT JSONEachRow {block.decode()}")


def seed(rows: list[dict[str, Any]], directory: Path) -> list[str]:
    """The statements of a store as the compose makes it, with `rows` recorded by the worker.

    Every migration and its line in `schema_migrations`, the example plan and two rows of
    every other table the sink writes as Arrow (`typed_rows`; files in `directory`), `rows` in
    JSON blocks of 500 (the third one sent twice, as a retried batch is), each with the
    server's settings and the sink's.
    """
    insert = {**server_settings(), **INSERT_SETTINGS, **JSON_INSERT_SETTINGS}
    (plan,) = read_plans(ROOT / "examples" / "plan.yaml")
    tables = plan_tables(plan, loaded_at=NOW - dt.timedelta(days=30))
    loads = [arrow_insert(name, tables[name], directory, insert) for name in LOAD_ORDER]
    loads += [arrow_insert(name, typed_rows(columns), directory, insert)
              for name, columns in ARROW_TABLES.items()]
    blocks = [(f"b{k}", accepted_events_json(rows[k:k + 500]))
              for k in range(0, len(rows), 500)]
    blocks.append(blocks[2])
    inserts = [json_insert("accepted_events", block, token) for token, block in blocks]
    ledger = ", ".join(f"('{version}', '{checksum(sql)}')" for version, sql in migration_files())
    return [f"CREATE DATABASE IF NOT EXISTS {DB}", ledger_ddl(DB), *migration_statements(),
            f"INSERT INTO {DB}.schema_migrations (version, checksum) VALUES {ledger}",
            *loads, *inserts]
