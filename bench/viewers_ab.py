"""Dashboards loading at once, measured for several checkouts of the code on one generated store.

`touchline bench --only viewers` generates its rows afresh for every run (100M rows: 10-15
minutes), so two versions of the store's read path cannot be compared within an hour, and the
parts the generator leaves are merged by the store in the background while it measures. This
generates the rows once into `--data-dir` (through a `touchline store`, as the benchmark does),
waits until the store has no merge left to do, and then, for each variant in the order given,
starts a store from that checkout on the same directory and runs the benchmark's own
measurement (touchline/bench/viewers.py `measure`: `--viewers` dashboards at once, one
warm-up round, `--rounds` timed rounds, each panel alone). A variant is the root of a
checkout (`git worktree add /tmp/base <commit>`), put first on the store's PYTHONPATH, or `.`
for the installed code. Give the variants alternated (`A B B A`): the cores are shared and the
machine's speed moves within the hour.

    python bench/viewers_ab.py --data-dir /tmp/ab100m --rows 100M /tmp/base . . /tmp/base

One JSON line per run is appended to `--out` (default: `runs.jsonl` in the data directory): the
variant, its commit, the time, and what `measure` returns.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

from touchline.bench.cli import parse_count
from touchline.bench.queries import generate
from touchline.bench.viewers import GENERATE_TIMEOUT_S, measure
from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.store_client import StoreBackend
from touchline.stack.services import Service, free_port, start_store

#: the file that says the data directory holds its generated rows
GENERATED = "generated"


def _store(data_dir: Path, variant: str) -> tuple[Settings, Service]:
    """A store on `data_dir` running the code of `variant` ('.': the installed code)."""
    if variant == ".":
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = str(Path(variant).resolve())
    settings = Settings(data_dir=data_dir, log_level="warn",
                        clickhouse=ClickHouseSettings(store_port=free_port()))
    return settings, start_store(settings)


def _generate(data_dir: Path, rows: int) -> None:
    """Generate `rows` activities with the installed code, then wait for merges to finish."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings, store = _store(data_dir, ".")
    writer = StoreBackend(settings.store_url(), timeout=GENERATE_TIMEOUT_S)
    sink = ClickHouseSink(settings.store_url()).start()
    try:
        print(f"generated {rows:,} rows in {generate(writer.command, rows):.0f} s", flush=True)
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
    parser.add_argument("--viewers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--out", type=Path, help="JSON lines (default: DATA_DIR/runs.jsonl)")
    args = parser.parse_args()
    if not (args.data_dir / GENERATED).exists():
        _generate(args.data_dir, parse_count(args.rows))
    out = args.out or args.data_dir / "runs.jsonl"
    for variant in args.variants:
        commit = _commit(variant)
        settings, store = _store(args.data_dir, variant)
        sink = ClickHouseSink(settings.store_url()).start()
        started = dt.datetime.now(dt.UTC)
        try:
            result = measure(sink, store.proc.pid, args.viewers, args.rounds, lambda _m: None)
        finally:
            sink.close()
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
