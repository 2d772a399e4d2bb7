"""The framework peers' Python environment: Quix Streams and Bytewax beside touchline's own.

The peers' packages pin versions of packages touchline also uses (Quix Streams needs orjson
>= 3.9), so they are not installed into touchline's environment, where they would change what
the benchmark measures of touchline. `interpreter()` makes a virtual environment of their own
once, cached in ~/.cache/touchline-bench; touchline, chdb and pyarrow come from this
interpreter's environment, after the venv's own packages (`cached_venv`, which the tests'
ClickHouse 25.8 engine uses too).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: the peers as the issue's table measured them
PACKAGES = ("quixstreams==3.28.1", "bytewax==0.21.1")


def interpreter() -> Path:
    """The python of the peers' environment (made on first use: a minute or two)."""
    tag = "-".join(p.replace("==", "") for p in PACKAGES)
    python = cached_venv("touchline-bench", f"peers-{tag}", PACKAGES)
    if python is None:
        from touchline.bench.stack import BenchError

        raise BenchError(f"could not install the framework peers ({', '.join(PACKAGES)}): "
                         "see pip's message above; leave `peers` out of --only")
    return python


def cached_venv(cache: str, name: str, packages: Sequence[str],
                pip_options: Sequence[str] = ()) -> Path | None:
    """The python of a virtual environment with `packages`, made once (None if pip failed).

    It lives in ~/.cache/`cache`/`name`-<this interpreter's environment>. The packages of this
    interpreter's environment come after the venv's own (their .pth files processed, so
    touchline's editable install too).
    """
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    # one per environment it leans on: a venv made beside another checkout's environment
    # would import that checkout's touchline
    base = hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]
    venv = home / cache / f"{name}-{base}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    building = venv.with_name(venv.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
    pip = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "-q",
                          "--disable-pip-version-check", *pip_options, *packages])
    if pip.returncode:
        return None
    own = next((building / "lib").glob("python3*/site-packages"))
    (own / "touchline_parent.pth").write_text("".join(
        f"import site; site.addsitedir({path!r})\n" for path in site.getsitepackages()))
    building.rename(venv)
    return python
