"""Dashboards loading at once, measured for several checkouts of the code on one generated store.

`touchline bench --only viewers` generates its rows afresh for every run (100M rows: 10-15
minutes), so two versions of the store's read path cannot be compared within an hour, and the
parts the generator leaves are merged by the store in the background while it measures. This
generates the rows once into `--data-dir` (through a `touchline store`, as the benchmark does),
waits until the store has no merge left to do, and then, for each variant in the order given,
starts a store from that checkout on the same directory and runs the benchmark's own
measurement (touchline/bench/viewers.py `measure`: `--viewers` dashboards at once, one
warm-up round, `--rounds` timed rounds, each panel alone). A variant is the root of a
checkout (`git worktree add /tmp/base <commit>`), or `.` for the installed code. Everything
a variant is measured with is its own code: before its store starts, its migrations' views are
created again in order (every `CREATE OR REPLACE VIEW`, so a view a later variant rewrote is
the variant's own again; views only a later variant has stay, unread); its store runs from it;
and its panels' SQL is expanded and sent by a child process running it. Give the variants
alternated (`A B B A`): the cores are shared and the machine's speed moves within the hour.

A checkout's root on PYTHONPATH is not enough to run its code (bench/checkout_code.py says
why); its processes run on an import root of its own, as `checkout_code.py` lays it out.

    python bench/viewers_ab.py --data-dir /tmp/ab100m --rows 100M /tmp/base . . /tmp/base

One JSON line per run is appended to `--out` (default: `runs.jsonl` in the data directory): the
variant, its commit, the time, and what `measure` returns.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from checkout_code import environment, import_root

from touchline.bench.cli import parse_count
from touchline.bench.queries import generate
from touchline.bench.shapes import SHAPES
from touchline.bench.viewers import GENERATE_TIMEOUT_S
from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.store_client import StoreBackend
from touchline.stack.services import Service, free_port, start_store

#: the file that says the data directory holds its generated rows
GENERATED = "generated"


#: run by a child with a variant's code: its views, created again in migration order
VIEWS = """
import sys
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.migrations import migration_files, statements
sink = ClickHouseSink(sys.argv[1]).start()
for _version, sql in migration_files():
    for statement in statements(sql, "touchline"):
        if statement.startswith("CREATE OR REPLACE VIEW "):
            sink.backend.command(statement)
sink.close()
"""
#: run by a child with a variant's code: its panels, measured through the store (JSON out)
MEASURE = """
import json, sys
from touchline.bench.viewers import measure
from touchline.sinks.clickhouse import ClickHouseSink
sink = ClickHouseSink(sys.argv[1]).start()
try:
    result = measure(sink, int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), lambda _m: None)
finally:
    sink.close()
print(json.dumps(result))
"""


_ROOTS: dict[str, Path] = {}


def _use(variant: str) -> None:
    """Children started from here run the code of `variant` ('.': the installed code)."""
    root = None
    if variant != ".":
        if variant not in _ROOTS:
            top = Path(tempfile.mkdtemp(prefix="viewers-ab-"))
            atexit.register(shutil.rmtree, top, True)
            _ROOTS[variant] = import_root(Path(variant).resolve(), top)
        root = _ROOTS[variant]
    os.environ.clear()
    os.environ.update(environment(root))


def _child(script: str, *args: object) -> str:
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], check=True,
                          capture_output=True, text=True)
    return done.stdout


def _store(data_dir: Path) -> tuple[Settings, Service]:
    """A store on `data_dir` running the code `_use` chose."""
    settings = Settings(data_dir=data_dir, log_level="warn",
                        clickhouse=ClickHouseSettings(store_port=free_port()))
    return settings, start_store(settings)


def _generate(data_dir: Path, rows: int, shape: str) -> None:
    """Generate `rows` activities of `shape` with the installed code, then wait for merges."""
    data_dir.mkdir(parents=True, exist_ok=True)
    _use(".")
    settings, store = _store(data_dir)
    writer = StoreBackend(settings.store_url(), timeout=GENERATE_TIMEOUT_S)
    sink = ClickHouseSink(settings.store_url()).start()
    try:
        seconds = generate(writer.command, rows, shape=shape)
        print(f"generated {rows:,} rows ({shape}) in {seconds:.0f} s", flush=True)
        while int(sink.query("SELECT count() FROM system.merges").scalar()):
            time.sleep(10)
        parts = sink.query("SELECT table, count() FROM system.parts WHERE active "
                           "AND database = 'touchline' GROUP BY table ORDER BY table").rows
        print("active parts:", dict(parts), flush=True)
    finally:
        sink.close()
        writer.close()
        store.stop()
    (data_dir / GENERATED).touch()


def _commit(variant: str) -> str:
    root = Path(__file__).resolve().parents[1] if variant == "." else Path(variant)
    return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", help="checkout roots, or . (installed)")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rows", default="100M", help="rows to generate (once)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="dense",
                        help="how generated rows fall (touchline/bench/shapes.py)")
    parser.add_argument("--viewers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--out", type=Path, help="JSON lines (default: DATA_DIR/runs.jsonl)")
    args = parser.parse_args()
    if not (args.data_dir / GENERATED).exists():
        _generate(args.data_dir, parse_count(args.rows), args.shape)
    out = args.out or args.data_dir / "runs.jsonl"
    for variant in args.variants:
        commit = _commit(variant)
        _use(variant)
        _child(VIEWS, Settings(data_dir=args.data_dir).clickhouse_dsn())
        settings, store = _store(args.data_dir)
        started = dt.datetime.now(dt.UTC)
        try:
            result = json.loads(_child(MEASURE, settings.store_url(), store.proc.pid,
                                       args.viewers, args.rounds))
        finally:
            store.stop()
        under = sum(p["p95_ms"] < 100 for p in result["panels"])
        load = result["dashboard_load"]
        print(f"{started:%H:%M:%S} {variant} ({commit}): dashboard load p50 "
              f"{load['p50_ms']:.0f} ms p95 {load['p95_ms']:.0f} ms; store "
              f"{result['store_cpu_ms_per_dashboard']:.0f} ms CPU per dashboard; "
              f"{under}/{len(result['panels'])} panels p95 < 100 ms", flush=True)
        with out.open("a") as f:
            f.write(json.dumps({"variant": variant, "commit": commit,
                                "started_at": started.isoformat(), **result}) + "\n")


if __name__ == "__main__":
    main()
