"""Run a command with the code of another checkout of touchline, not the installed code.

    git worktree add /tmp/base <commit>
    python bench/checkout_code.py /tmp/base -- touchline bench --only freshness

A checkout's root on PYTHONPATH is not enough: only `touchline/` is a folder of the import
root there, and `touchline.sinks`, `.streams`, `.dashboards` and `.schemas` (folders setup.py
maps under it) would still be imported from the installed (editable) code; and `python -m` or
`-c` puts the working directory first on the path. So the checkout gets an import root of its
own, `touchline/` with setup.py's folders linked into it, and the command (and every process
it starts) runs with PYTHONPATH on that root and PYTHONSAFEPATH=1. The command runs in a
temporary directory: files it writes relative to its working directory (`touchline bench`'s
`bench/results/`) are copied back to the current directory's.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def import_root(checkout: Path, under: Path) -> Path:
    """`under`/touchline, laid out as the checkout's wheel would be: setup.py's ROOTS linked."""
    tree = ast.parse((checkout / "setup.py").read_text())
    (roots,) = [ast.literal_eval(node.value) for node in ast.walk(tree)
                if isinstance(node, ast.Assign)
                and any(getattr(t, "id", "") == "ROOTS" for t in node.targets)]
    package = under / "touchline"
    package.mkdir(parents=True)
    for entry in (checkout / roots["touchline"]).iterdir():
        (package / entry.name).symlink_to(entry)
    for name, folder in roots.items():
        if name != "touchline":
            (package / name.removeprefix("touchline.")).symlink_to(checkout / folder)
    return under


def environment(root: Path | None) -> dict[str, str]:
    """os.environ for processes running the code under `root` (None: the installed code)."""
    env = dict(os.environ)
    if root is None:
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONSAFEPATH", None)
    else:
        env.update(PYTHONPATH=str(root), PYTHONSAFEPATH="1")
    return env


USAGE = "usage: python bench/checkout_code.py CHECKOUT -- COMMAND [ARG...]"


def main() -> None:
    args = sys.argv[1:]
    if args in (["-h"], ["--help"]):
        print(f"{USAGE}\n\n{__doc__.strip()}")
        return
    if len(args) < 3 or args[1] != "--":
        sys.exit(USAGE)
    checkout = Path(args[0]).resolve()
    if not (checkout / "setup.py").is_file():
        sys.exit(f"{checkout} is not a checkout of touchline (no setup.py): "
                 "make one with `git worktree add DIR COMMIT`")
    with tempfile.TemporaryDirectory(prefix="checkout-code-") as tmp:
        root = import_root(checkout, Path(tmp) / "root")
        work = Path(tmp) / "work"
        work.mkdir()
        done = subprocess.run(args[2:], env=environment(root), cwd=work, check=False)
        results = work / "bench" / "results"
        if results.is_dir():
            target = Path("bench/results")
            target.mkdir(parents=True, exist_ok=True)
            for f in results.iterdir():
                shutil.copy2(f, target / f.name)
                print(f"copied {target / f.name}")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
