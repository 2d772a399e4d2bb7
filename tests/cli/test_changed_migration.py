"""A store whose applied migration has changed since: `touchline sink init`, `touchline store` and
`touchline up` refuse with one line, and `touchline sink init --reapply-changed` brings the views
back to the code's text without counting a stored row twice.

The store applied 0044 with other statements: its `open_deals_vs_sla` view is another text and
its record another checksum, as a store migrated before an edit of 0044 would have. The data
directory is a real embedded engine, prepared and checked by subprocesses (one engine path per
process).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.commands import subprocess_cli
from tests.harness import up_env
from touchline.sinks.migrations import checksum, migration_files
from touchline.stack.services import port_open

pytestmark = pytest.mark.integration

CHANGED = "0044_deal_last_activity"
LATER = [v for v, _ in migration_files() if v > CHANGED]

#: argv: data directory, seconds since worker w-1 last wrote a progress row
PREPARE = f"""
import sys
from touchline.sinks.clickhouse import ClickHouseSink
s = ClickHouseSink(f"chdb://{{sys.argv[1]}}/clickhouse").start()
s.ensure_schema()
for sql in (
    "INSERT INTO touchline.activities (event_id, tenant, type, occurred_at, source, rep_id, "
    "team_id, account_id, opportunity_id, to_stage, schema_version, ingested_at) VALUES "
    "('e-1', 'acme', 'stage_change', now64(3), 'hubspot', 'r-1', 't-1', 'a-1', 'o-1', "
    "'Needs Analysis', 1, now64(3))",
    "CREATE OR REPLACE VIEW touchline.open_deals_vs_sla AS SELECT 'earlier text' AS stale",
    "INSERT INTO touchline.schema_migrations (version, checksum, applied_at) VALUES "
    "('{CHANGED}', 's1:0123456789abcdef', now64(3) + INTERVAL 1 SECOND)",
    "ALTER TABLE touchline.pipeline_metrics DELETE WHERE 1 SETTINGS mutations_sync = 2",
    "INSERT INTO touchline.pipeline_metrics (ts, worker, topic, partition) VALUES "
    f"(now64(3) - toIntervalSecond({{int(sys.argv[2])}}), 'w-1', 'raw', 0)",
):
    s.command(sql)
s.close()
"""

CHECK = f"""
import sys
from touchline.sinks.clickhouse import ClickHouseSink
s = ClickHouseSink(f"chdb://{{sys.argv[1]}}/clickhouse").start()
print("opportunity_activity" in s.query(
    "SELECT create_table_query FROM system.tables WHERE database = 'touchline' "
    "AND name = 'open_deals_vs_sla'").scalar())
print(s.query("SELECT argMax(checksum, applied_at) FROM touchline.schema_migrations "
              "WHERE version = '{CHANGED}'").scalar())
print(s.query("SELECT count() FROM touchline.opportunity_activity").scalar())
s.close()
"""


def _cli(data: Path, *args: str) -> tuple[int, str]:
    code, out = subprocess_cli(data, *args)
    return code, out.decode()


def _python(script: str, *args: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def _one_error_line(code: int, text: str, before: str = "") -> None:
    """One line: `Error: `, then `before` (a pattern), then the changed migration and the fix."""
    assert code == 1 and "Traceback" not in text and text.count("\n") == 1, text
    assert re.match(
        f"Error: {before}migration {CHANGED} changed since this store applied it", text), text
    assert "`touchline sink init --reapply-changed`" in text, text


def _up(data: Path) -> tuple[int, str, int]:
    """`touchline up` on `data`, every port one nobody uses; (exit code, output, broker port)."""
    settings, env = up_env(data)
    proc = subprocess.run([sys.executable, "-m", "touchline", "up"], capture_output=True,
                          env=env, timeout=120)
    return proc.returncode, (proc.stdout + proc.stderr).decode(), settings.kafka.embedded_port


def test_a_changed_migration_is_refused_then_applied_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _python(PREPARE, str(data), "120")  # w-1 stopped two minutes ago

    _one_error_line(*_cli(data, "sink", "init"))
    _one_error_line(*_cli(data, "store"))  # the store does not serve a schema it cannot vouch for
    # `touchline up` passes the store's line on as its own, and stops what it started
    code, text, broker = _up(data)
    _one_error_line(code, text,
                    before=r"the ClickHouse store did not come up on 127\.0\.0\.1:\d+: ")
    assert not port_open(broker), "the broker `up` started is still running"
    assert _python(CHECK, str(data)) == ["False", "s1:0123456789abcdef", "1"]

    code, text = _cli(data, "sink", "init", "--reapply-changed")
    assert code == 0 and text.strip() == f"applied: {', '.join([CHANGED, *LATER])}", text
    sql = dict(migration_files())[CHANGED]
    # the view is the code's again, the record its checksum, the deal's row still one row
    assert _python(CHECK, str(data)) == ["True", checksum(sql), "1"]

    code, text = _cli(data, "sink", "init")
    assert code == 0 and text.strip() == "schema is up to date", text


LEGACY = """
import sys
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.migrations import _text_checksum, migration_files
s = ClickHouseSink(f"chdb://{sys.argv[1]}/clickhouse").start()
if sys.argv[2] == "record":  # as stores recorded every file before statement checksums
    s.ensure_schema()
    s.command("TRUNCATE TABLE touchline.schema_migrations")
    s.command("INSERT INTO touchline.schema_migrations (version, checksum) VALUES "
              + ", ".join(f"('{v}', '{_text_checksum(sql)}')" for v, sql in migration_files()))
print(s.query("SELECT uniqExact(version), countIf(startsWith(checksum, 's1:')) FROM "
              "(SELECT version, argMax(checksum, applied_at) AS checksum "
              "FROM touchline.schema_migrations GROUP BY version)").rows[0])
s.close()
"""


def test_checksums_recorded_before_are_kept_and_upgraded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    files = len(migration_files())
    assert _python(LEGACY, str(data), "record") == [f"({files},", "0)"]
    code, text = _cli(data, "sink", "init")
    assert code == 0 and text.strip() == "schema is up to date", text
    # every record now the statements' checksum: a later comment-only edit passes
    assert _python(LEGACY, str(data), "read") == [f"({files},", f"{files})"]


def test_applying_again_waits_for_the_workers_to_stop(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _python(PREPARE, str(data), "5")  # w-1 wrote 5 s ago: it is writing
    code, text = _cli(data, "sink", "init", "--reapply-changed")
    assert code == 1 and "Traceback" not in text, text
    assert text.startswith(f"Error: migration {CHANGED} fills a new table"), text
    assert _python(CHECK, str(data))[:2] == ["False", "s1:0123456789abcdef"]
