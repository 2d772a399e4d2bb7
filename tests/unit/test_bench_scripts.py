"""Every script in bench/ still imports and parses its arguments.

The scripts import the package's benchmark code (touchline.bench) by name and no test runs
them end to end (they take minutes to hours), so a rename there broke one silently before
(coach_pass_stalls.py importing a function by its old private name). `--help` imports every
module a script names at its top and builds its parser.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


def test_bench_has_its_scripts() -> None:
    assert {p.name for p in SCRIPTS} >= {"checkout_code.py", "coach_pass_stalls.py",
                                         "insert_cost.py", "viewers_ab.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_imports_and_prints_its_usage(script: Path) -> None:
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:"), done.stdout[:500]
    assert "Traceback" not in done.stderr
