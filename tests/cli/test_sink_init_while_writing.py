"""`touchline sink init` refuses a migration that fills a table from the stored rows while a
worker writes, and applies it once the workers have stopped.

A fill (INSERT ... SELECT in 0010, 0021, 0033, 0034) reads `activities` as it is at that moment:
rows a worker writes meanwhile reach the new table twice or not at all. The data directory is a
real embedded engine, prepared and checked by subprocesses (one engine path per process); the
worker's progress rows are what a running worker writes to `pipeline_metrics`.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.commands import subprocess_cli

pytestmark = pytest.mark.integration

#: argv: data directory, seconds since worker w-1 last wrote a progress row, and "pending"
#: to make 0034 new again (its table and view gone, its record removed); each run stores one
#: more stage change
PREPARE = """
import sys
from touchline.sinks.clickhouse import ClickHouseSink
s = ClickHouseSink(f"chdb://{sys.argv[1]}/clickhouse").start()
s.ensure_schema()
pending = (
    "DROP VIEW IF EXISTS touchline.stage_names_mv",
    "DROP TABLE IF EXISTS touchline.stage_names",
    "ALTER TABLE touchline.schema_migrations DELETE WHERE version = '0034_stage_names' "
    "SETTINGS mutations_sync = 2",
) if sys.argv[3] == "pending" else ()
for sql in (
    *pending,
    "ALTER TABLE touchline.pipeline_metrics DELETE WHERE 1 SETTINGS mutations_sync = 2",
    "INSERT INTO touchline.activities (event_id, tenant, type, occurred_at, source, rep_id, "
    "team_id, account_id, opportunity_id, to_stage, schema_version, ingested_at) VALUES "
    "('e-1', 'acme', 'stage_change', now64(3), 'hubspot', 'r-1', 't-1', 'a-1', 'o-1', "
    "'Needs Analysis', 1, now64(3))",
    "INSERT INTO touchline.pipeline_metrics (ts, worker, topic, partition) VALUES "
    f"(now64(3) - toIntervalSecond({int(sys.argv[2])}), 'w-1', 'raw', 0)",
):
    s.command(sql)
s.close()
"""

CHECK = """
import sys
from touchline.sinks.clickhouse import ClickHouseSink
s = ClickHouseSink(f"chdb://{sys.argv[1]}/clickhouse").start()
table = s.query("SELECT count() FROM system.tables WHERE database = 'touchline' "
                "AND name = 'stage_names'").scalar()
print(table, s.query("SELECT count() FROM touchline.schema_migrations "
                     "WHERE version = '0034_stage_names'").scalar())
if table:
    print(s.query("SELECT tenant, stage, source, sum(changes) FROM touchline.stage_names "
                  "GROUP BY tenant, stage, source").rows)
s.close()
"""


def _cli(data: Path, *args: str) -> tuple[int, str]:
    code, out = subprocess_cli(data, *args)
    return code, out.decode()


def _python(script: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_fill_waits_for_the_workers_to_stop(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _python(PREPARE, str(data), "5", "pending")  # w-1 wrote 5 s ago: it is writing

    code, text = _cli(data, "sink", "init")
    assert code == 1 and "Traceback" not in text and text.count("\n") == 1, text
    assert text.startswith("Error: migration 0034_stage_names fills a new table"), text
    assert "1 worker(s) (w-1) wrote in the last 60 s" in text, text
    assert "docker compose stop worker-1 worker-2" in text, text
    assert _python(CHECK, str(data)).split("\n")[0] == "0 0"  # nothing applied

    _python(PREPARE, str(data), "120", "pending")  # w-1 stopped two minutes ago
    code, text = _cli(data, "sink", "init")
    assert code == 0 and text.strip() == "applied: 0034_stage_names", text
    counts, rows = _python(CHECK, str(data)).strip().split("\n")
    assert counts == "1 1"  # the table exists, the migration is recorded
    # the two stage changes stored before the fill (one per PREPARE), each counted once
    assert rows == "[('acme', 'Needs Analysis', 'hubspot', 2)]"


def test_an_up_to_date_schema_is_not_held_up_by_running_workers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _python(PREPARE, str(data), "5", "applied")
    code, text = _cli(data, "sink", "init")
    assert code == 0 and text.strip() == "schema is up to date", text
