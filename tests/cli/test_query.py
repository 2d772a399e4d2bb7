"""`touchline query` as a clickhouse-client user types it, on real data.

Two paths, the same answers: through a running store process (`store://`, what a query does
while `touchline up` runs) and on the data directory itself once the store has stopped (the
embedded engine opened by the query process: run as a real subprocess, since chdb allows one
directory per process). Then the empty data directory: one line that says what to run, and
nothing created.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.cli.commands import subprocess_cli
from touchline.cli.main import main
from touchline.settings import ClickHouseSettings, Settings, get_settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack.services import free_port, start_store

ROWS = [  # event_id, rep_id, team_id, duration_s
    ("e1", "r-1", "east", 30),
    ("e2", "r-2", "east", 0),
    ("e3", "r-1", "west", 95),
]
BY_EVENT = "SELECT event_id, rep_id, duration_s FROM activities ORDER BY event_id"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A data directory with three activities, and the store port it was served on."""
    root = tmp_path_factory.mktemp("query")
    settings = Settings(data_dir=root / "data",
                        clickhouse=ClickHouseSettings(store_port=free_port()))
    settings.data_dir.mkdir()
    store = start_store(settings)
    try:
        sink = ClickHouseSink(settings.store_url()).start()
        values = ", ".join(f"('{e}', 'acme', 'call', '2026-11-02 10:00:00', '{r}', '{t}', {d})"
                           for e, r, t, d in ROWS)
        sink.command("INSERT INTO touchline.activities (event_id, tenant, type, occurred_at, "
                     f"rep_id, team_id, duration_s) VALUES {values}")
        sink.close()
    finally:
        store.stop()
    return settings.data_dir, settings.clickhouse.store_port


@pytest.fixture()
def store_running(data_dir: tuple[Path, int],
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The store serves `data_dir` again; the CLI runs in-process against it."""
    path, port = data_dir
    for name in list(os.environ):
        if name.startswith("TOUCHLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TOUCHLINE_DATA_DIR", str(path))
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE__STORE_PORT", str(port))
    get_settings.cache_clear()
    settings = get_settings()
    store = start_store(settings)
    try:
        yield settings
    finally:
        store.stop()
        get_settings.cache_clear()


def in_process(*args: str) -> tuple[int, bytes]:
    result = CliRunner().invoke(main, ["query", *args], catch_exceptions=False)
    return result.exit_code, result.stdout_bytes + result.stderr_bytes


def _json_lines(out: bytes) -> list[dict]:
    return [orjson.loads(line) for line in out.splitlines()]


def check_answers(run) -> None:
    """The same questions, the same answers, whichever path `run(*args)` takes."""
    # FORMAT written in SQL, unqualified table name: nothing appended, `touchline` default
    code, out = run(f"{BY_EVENT} FORMAT JSONEachRow")
    assert code == 0, out
    assert _json_lines(out) == [{"event_id": e, "rep_id": r, "duration_s": d}
                                for e, r, _, d in ROWS]
    # trailing semicolon and a lower-case clause, as people type them
    code, out = run("select count() as n from activities format JSONEachRow;")
    assert (code, _json_lines(out)) == (0, [{"n": 3}])
    # --format json: SQL NULL is JSON null
    code, out = run("SELECT event_id, nullIf(rep_id, 'r-2') AS rep FROM activities "
                    "ORDER BY event_id", "--format", "json")
    assert code == 0, out
    assert _json_lines(out) == [{"event_id": "e1", "rep": "r-1"}, {"event_id": "e2", "rep": None},
                                {"event_id": "e3", "rep": "r-1"}]
    # any ClickHouse format by option, and csv = CSVWithNames
    code, out = run("SELECT team_id, sum(duration_s) AS s FROM activities GROUP BY team_id "
                    "ORDER BY team_id", "-f", "csv")
    assert code == 0, out
    assert list(csv.reader(io.StringIO(out.decode()))) == [["team_id", "s"], ["east", "30"],
                                                           ["west", "95"]]
    code, out = run(BY_EVENT, "--format", "TSVWithNames")
    assert (code, out.decode()) == (0, "event_id\trep_id\tduration_s\ne1\tr-1\t30\n"
                                       "e2\tr-2\t0\ne3\tr-1\t95\n")
    # a binary format arrives intact
    code, out = run(BY_EVENT, "-f", "Parquet")
    assert code == 0, out[:200]
    table = pq.read_table(io.BytesIO(out))
    assert table.column("event_id").to_pylist() == ["e1", "e2", "e3"]
    assert table.column("duration_s").to_pylist() == [30, 0, 95]
    # --param as before: server-side {name:Type}
    code, out = run("SELECT event_id FROM activities WHERE rep_id = {rep:String} "
                    "ORDER BY event_id FORMAT JSONEachRow", "--param", "rep=r-1")
    assert (code, _json_lines(out)) == (0, [{"event_id": "e1"}, {"event_id": "e3"}])
    # the default table: ClickHouse's text for each value, NULL shown, a row count
    code, out = run("SELECT event_id, nullIf(rep_id, 'r-2') AS rep, duration_s "
                    "FROM activities ORDER BY event_id")
    assert code == 0, out
    assert out.decode().splitlines() == [
        "event_id  rep   duration_s",
        "--------  ----  ----------",
        "e1        r-1   30",
        "e2        NULL  0",
        "e3        r-1   95",
        "(3 rows)",
    ]
    # FORMAT inside a string literal is data, not a clause
    code, out = run("SELECT 'x FORMAT CSV' AS s")
    assert code == 0 and out.decode().splitlines()[2] == "x FORMAT CSV", out


def check_refusals(run) -> None:
    """Writes are refused (also hidden behind a first statement) and change nothing."""
    for sql in ("INSERT INTO activities (event_id) VALUES ('x')",
                "INSERT INTO activities (event_id) VALUES ('x'); SELECT 1",
                "DROP TABLE activities",
                "SELECT 1 SETTINGS readonly = 0"):
        code, out = run(sql)
        text = out.decode()
        assert code == 1 and "Traceback" not in text, (sql, text)
        assert text.startswith("Error: ") and text.count("\n") == 1, (sql, text)
    code, out = run("SELECT 1", "-f", "NoSuchFormat")
    assert code == 1 and "NoSuchFormat" in out.decode() and "Traceback" not in out.decode()
    code, out = run("SELECT count() FROM activities FORMAT TSV")
    assert (code, out) == (0, b"3\n")


@pytest.mark.integration
def test_through_the_running_store(store_running: Settings) -> None:
    check_answers(in_process)
    check_refusals(in_process)


@pytest.mark.integration
def test_on_the_data_directory_itself(data_dir: tuple[Path, int]) -> None:
    path, _ = data_dir
    check_answers(lambda *a: subprocess_cli(path, "query", *a))


@pytest.mark.integration
def test_empty_data_directory_says_what_to_run_and_creates_nothing(tmp_path: Path) -> None:
    routing = Path(__file__).resolve().parents[2] / "examples" / "routing.yaml"
    for args in (["query", "SELECT 1"], ["signals", "list"], ["report", "cadences"],
                 ["report", "variation"], ["alerts", "check"], ["digest", "--team", "t"],
                 ["notifier", "--once", "--routing", str(routing)], ["stages", "unmapped"],
                 ["org", "list"]):
        # the default data directory (./.touchline) under an empty working directory
        code, out = subprocess_cli(None, *args, cwd=tmp_path)
        text = out.decode()
        assert code == 1 and "Traceback" not in text, (args, text)
        assert text.count("\n") == 1 and text.startswith("Error: no data yet"), (args, text)
        assert "touchline demo" in text and "touchline up" in text, text
        assert list(tmp_path.iterdir()) == [], (args, list(tmp_path.iterdir()))


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT 1 FORMAT JSONEachRow", "JSONEachRow"),
    ("select 1 format csv;  \n", "csv"),
    ("SELECT 1 FORMAT Pretty SETTINGS max_threads = 1", "Pretty"),
    ("SELECT 1 INTO OUTFILE 'f.csv' FORMAT CSV", "CSV"),
    ("SELECT 'a FORMAT CSV'", None),
    ("SELECT 1 -- FORMAT CSV", None),
    ("SELECT 1 /* FORMAT CSV */", None),
    ("SELECT format FROM t", None),
    ("SELECT formatDateTime(now(), '%F') AS d", None),
    ("SELECT `x FORMAT CSV` FROM t", None),
    ("SELECT 'it''s' AS s FORMAT TSV", "TSV"),
    ("SELECT 'a\\' FORMAT CSV'", None),
])
def test_format_clause_found_only_where_it_is_one(sql: str, expected: str | None) -> None:
    from touchline.cli.query_output import sql_format, wire_format

    assert sql_format(sql) == expected
    assert wire_format(sql, "table") == ((None, False) if expected else
                                         ("TabSeparatedWithNamesAndTypes", True))
