"""bench/checkout_code.py runs a checkout's own code: every folder setup.py maps."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module():
    path = ROOT / "bench" / "checkout_code.py"
    spec = importlib.util.spec_from_file_location("checkout_code", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_checkouts_processes_import_every_mapped_folder_from_it(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "setup.py").write_text((ROOT / "setup.py").read_text())
    for folder in ("touchline", "schemas", "streams", "sinks", "dashboards"):
        (checkout / folder).symlink_to(ROOT / folder)
    code = _module()
    root = code.import_root(checkout, tmp_path / "root")
    probe = ("import touchline, touchline.sinks.migrations as m, touchline.dashboards.queries as q;"
             "print(touchline.__file__); print(m.__file__); print(q.__file__)")
    # run from the repository root: without PYTHONSAFEPATH its touchline/ would come first
    done = subprocess.run([sys.executable, "-c", probe], env=code.environment(root), cwd=ROOT,
                          capture_output=True, text=True, check=True)
    files = done.stdout.split()
    assert len(files) == 3 and all(f.startswith(str(root)) for f in files), files
    # the installed code, for the '.' variant: the repository's own files
    done = subprocess.run([sys.executable, "-c", probe], env=code.environment(None),
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    assert not any(f.startswith(str(root)) for f in done.stdout.split())


def test_a_command_without_a_checkout_gets_a_usage_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "checkout_code.py"), str(tmp_path),
                           "--", "true"], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "not a checkout of touchline" in done.stderr
    assert "Traceback" not in done.stderr
