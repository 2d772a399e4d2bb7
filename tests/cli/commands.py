"""`touchline` run as a real subprocess, as a user runs it: no TOUCHLINE_* from the test's env."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness import clean_env
from touchline.stack.services import free_port


def subprocess_cli(data: Path | None, *args: str, cwd: Path | None = None) -> tuple[int, bytes]:
    """`python -m touchline *args` on data directory `data` (None: the default one under
    `cwd`), with a store port nobody uses; (exit code, stdout + stderr)."""
    env = clean_env(TOUCHLINE_CLICKHOUSE__STORE_PORT=str(free_port()))
    if data is not None:
        env["TOUCHLINE_DATA_DIR"] = str(data)
    proc = subprocess.run([sys.executable, "-m", "touchline", *args], capture_output=True,
                          env=env, cwd=cwd, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr
