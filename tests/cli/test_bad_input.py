"""The CLI on bad input: one clear line (what is wrong, how to fix it), non-zero exit, no traceback.

Each case runs in-process with click's CliRunner (settings cache cleared around it) and, for the
ones a user hits first, once more as a real `touchline` subprocess, whose whole output is checked.
The unreachable broker / ClickHouse are real closed ports on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from touchline.cli.main import main
from touchline.settings import KafkaSettings, Settings, get_settings
from touchline.stack.pipeline_watch import LagWatch
from touchline.stack.services import free_port

GOOD_LINE = (b'{"event_id":"e1","tenant":"acme","type":"email",'
             b'"occurred_at":"2026-01-01T00:00:00Z",'
             b'"source":"t","rep_id":"r","team_id":"t","account_id":"a","action":"sent"}\n')


@pytest.fixture(autouse=True)
def fresh_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Own data dir and cwd (no .env), settings read again for every invocation."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("TOUCHLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TOUCHLINE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def invoke(args: list[str], **env: str) -> tuple[int, str]:
    """Run the CLI in-process; (exit code, stdout+stderr)."""
    get_settings.cache_clear()
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=True)
    output = result.output  # stdout and stderr, interleaved
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args}: {result.exception!r} escaped:\n{output}")
    return result.exit_code, output


def run_cli(args: list[str], **env: str) -> tuple[int, str]:
    """Run `python -m touchline ...` as a subprocess; (exit code, stdout+stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "touchline", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **env},
    )
    return proc.returncode, proc.stdout + proc.stderr


def error_line(code: int, output: str) -> str:
    """Assert the failure shape and return the one `Error:` line."""
    assert code != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    assert len(errors[0]) < 400, errors[0]
    return errors[0]


def test_unknown_flag() -> None:
    line = error_line(*invoke(["--bogus"]))
    assert "No such option: --bogus" in line


def test_bad_flag_value(tmp_path: Path) -> None:
    (tmp_path / "f.jsonl").write_bytes(GOOD_LINE)
    line = error_line(*invoke(["ingest", "--batch", "abc", "f.jsonl"]))
    assert "--batch" in line and "not a valid integer" in line


@pytest.mark.parametrize(("args", "expected"), [
    (["--rate", "0"], "--rate"), (["--history-days", "-1"], "--history-days"),
    (["--malformed", "2"], "--malformed"), (["--duplicates", "-0.5"], "--duplicates")])
def test_simulator_settings_out_of_range(args: list[str], expected: str) -> None:
    line = error_line(*invoke(["simulate", "--jsonl", "f.jsonl", "--count", "10", *args]))
    assert expected in line and "range" in line
    assert not Path("f.jsonl").exists()


def test_unknown_command() -> None:
    line = error_line(*invoke(["ingets", "f.jsonl"]))
    assert "No such command" in line


def test_ingest_missing_file() -> None:
    line = error_line(*invoke(["ingest", "missing.jsonl"]))
    assert "missing.jsonl" in line and "does not exist" in line


def test_plan_validate_without_file_and_with_missing_file() -> None:
    line = error_line(*invoke(["plan", "validate"]))
    assert "Missing argument 'FILE'" in line
    code, output = invoke(["plan", "validate", "missing.yaml"])
    assert code != 0 and "Traceback" not in output
    assert "missing.yaml" in output and "cannot read the file" in output


@pytest.mark.parametrize("args", [["topics"], ["ingest", "f.jsonl"]])
def test_commands_that_need_the_broker_say_none_answers(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "f.jsonl").write_bytes(GOOD_LINE)
    port = free_port()
    line = error_line(*invoke(args, TOUCHLINE_KAFKA__BOOTSTRAP=f"127.0.0.1:{port}"))
    assert line == (f"Error: no Kafka broker answers at 127.0.0.1:{port}: start the stack with "
                    "`touchline up` (or set TOUCHLINE_KAFKA__BOOTSTRAP)"), line


def test_the_lag_reading_gives_up_on_an_absent_broker_within_seconds() -> None:
    # `up` reads it once a second between restarting crashed services and seeing a stop; with
    # kafka-python's own bootstrap timeout each reading took 30 s while the broker was away
    settings = Settings(kafka=KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}"))
    watch = LagWatch(settings)
    started = time.monotonic()
    try:
        reading = watch.read()
    finally:
        watch.close()
    assert reading.waiting is None and reading.describe().startswith("lag unknown")
    assert time.monotonic() - started < 10


@pytest.mark.integration
def test_query_with_unreachable_clickhouse() -> None:
    port = free_port()
    line = error_line(*invoke(["query", "SELECT 1"],
                              TOUCHLINE_CLICKHOUSE__DSN=f"http://127.0.0.1:{port}"))
    assert f"cannot reach ClickHouse (connection refused at http://127.0.0.1:{port})" in line
    assert "TOUCHLINE_CLICKHOUSE__DSN" in line


@pytest.mark.integration
def test_sink_init_with_unreachable_clickhouse() -> None:
    port = free_port()
    line = error_line(*invoke(["sink", "init"],
                              TOUCHLINE_CLICKHOUSE__DSN=f"http://127.0.0.1:{port}"))
    assert "cannot reach ClickHouse" in line


@pytest.mark.parametrize("args", [["ingest", "f.jsonl"], ["query", "SELECT 1"], ["sink", "init"],
                                  ["topics"]])
def test_bad_settings_value(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "f.jsonl").write_bytes(GOOD_LINE)
    line = error_line(*invoke(args, TOUCHLINE_KAFKA__PARTITIONS="abc"))
    assert "invalid setting kafka.partitions" in line and "TOUCHLINE_" in line


def test_query_with_bad_param() -> None:
    line = error_line(*invoke(["query", "SELECT 1", "--param", "novalue"]))
    assert "NAME=VALUE" in line


def test_ingest_a_directory_and_an_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    line = error_line(*invoke(["ingest", "adir"]))
    assert "adir" in line
    unreadable = tmp_path / "secret.jsonl"
    unreadable.write_bytes(GOOD_LINE)
    unreadable.chmod(0)
    try:
        if os.access(unreadable, os.R_OK):  # root reads anything: use a path under a file
            target = "f.jsonl/x.jsonl"
            (tmp_path / "f.jsonl").write_bytes(GOOD_LINE)
        else:
            target = "secret.jsonl"
        code, output = invoke(["ingest", target])
        line = error_line(code, output)
        assert target.split("/")[0] in line
    finally:
        unreadable.chmod(0o600)


# -- the same, as a real process: the user's terminal sees no traceback ----------------------

@pytest.mark.integration
def test_subprocess_missing_file_unreachable_services_bad_setting(tmp_path: Path) -> None:
    (tmp_path / "f.jsonl").write_bytes(GOOD_LINE)
    port = free_port()
    base = {"TOUCHLINE_DATA_DIR": str(tmp_path / "data")}
    cases = [
        (["ingest", "missing.jsonl"], {}, "does not exist"),
        (["ingest", "f.jsonl"], {"TOUCHLINE_KAFKA__BOOTSTRAP": f"127.0.0.1:{port}"},
         "no Kafka broker answers"),
        (["query", "SELECT 1"], {"TOUCHLINE_CLICKHOUSE__DSN": f"http://127.0.0.1:{port}"},
         "cannot reach ClickHouse"),
        (["ingest", "f.jsonl"], {"TOUCHLINE_KAFKA__PARTITIONS": "abc"},
         "invalid setting kafka.partitions"),
        (["--bogus"], {}, "No such option"),
    ]
    for args, env, expected in cases:
        code, output = run_cli(args, **base, **env)
        line = error_line(code, output)
        assert expected in line, (args, output)
        if args[0] != "--bogus" and "missing" not in args[-1]:
            assert output.strip() == line, f"{args}: more than the error line:\n{output}"
