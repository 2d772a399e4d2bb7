"""CPU of one insert into `activities` (and its views) on the embedded engine, per block size.

Each measurement runs in a child process of its own on a fresh chdb directory with the schema
migrated (`ClickHouseSink.ensure_schema`), then inserts blocks of N activity rows through the
sink's JSON path with a deduplication token each (as a worker's batch does), and prints the
process CPU (time.process_time) per insert, with where the engine's own timers (ProfileEvents
in `system.events`) put it: the insert query, the analysis and the planning of the views'
queries, the merges. Variants (extra SQL files applied after the
migrations) and the baseline alternate, round after round, so load from other work on a shared
machine falls on all of them alike.

    python bench/insert_cost.py --rows 1,1000 --inserts 200 --rounds 3
    python bench/insert_cost.py --variant no_arrivals=/tmp/drop_arrivals.sql
    python bench/insert_cost.py --variant no_optimize=+optimize_on_insert=0
    python bench/insert_cost.py --rows 10000 --cadence-share 0.5 \
        --variant cadence_starts=bench/variants/cadence_starts_0042.sql
    python bench/insert_cost.py --rows 20000 --formats json,arrow \
        --variant no_views=bench/variants/no_views.sql
    python bench/insert_cost.py --rows 1,5000 --each-view

`--each-view` adds one variant per materialized view an insert into `activities` feeds (that
view dropped: `no_<view>`) and one without the `by_rep` projection (`no_projection`): what
each costs an insert, against the baseline of the same round. Rows of 5,000 or more are timed
over a quarter of `--inserts` (at least 20).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TENANTS = ("acme", "globex")
TYPES = ("call", "email", "meeting", "disposition", "stage_change")


#: ProfileEvents (system.events) reported per insert, in ms: name in the output -> events summed
ENGINE_TIMERS = {
    "insert_query_ms": ("InsertQueryTimeMicroseconds",),
    "analysis_ms": ("QueryAnalysisMicroseconds",),
    "planning_ms": ("QueryPlanBuildMicroseconds", "QueryPlanOptimizeMicroseconds",
                    "QueryPipelineBuildMicroseconds"),
    "merges_ms": ("MergeMutateBackgroundExecutorTaskExecuteStepMicroseconds",),
}


def activity_rows(n: int, start: int, cadence_share: float = 0.0) -> list[dict]:
    """N distinct activity rows (epoch-ms times, as the worker's rows are).

    `cadence_share` of the touches are steps of a cadence (3 cadences, steps 1-8), as a
    sequencing tool's calls and emails are: what the cadence rollup (0047) is fed.
    """
    now_ms = int(time.time() * 1000)
    rows = []
    for i in range(start, start + n):
        kind = TYPES[i % len(TYPES)]
        touch = kind in ("call", "email", "meeting")
        in_cadence = touch and (i % 100) < cadence_share * 100
        rows.append({
            "event_id": f"ev-{i}", "tenant": TENANTS[i % 2], "type": kind,
            "occurred_at": now_ms - (i % 3600) * 1000, "source": "bench",
            "rep_id": f"rep-{i % 50}", "team_id": f"team-{i % 5}",
            "account_id": f"acc-{i % 400}", "prospect_id": f"pr-{i % 2000}",
            "opportunity_id": "", "cadence_id": f"cad-{i % 3}" if in_cadence else "",
            "cadence_step": 1 + (i // 7) % 8 if in_cadence else 0,
            "channel": "phone" if kind == "call" else "email",
            "is_touch": int(touch),
            "direction": "outbound", "outcome": "connected" if i % 3 == 0 else "",
            "duration_s": 30, "email_action": "sent" if kind == "email" else "",
            "meeting_status": "held" if kind == "meeting" else "",
            "from_stage": "", "to_stage": "", "disposition": "",
            "lead_status": "", "schema_version": 1, "ingested_at": now_ms,
            "kafka_partition": i % 8, "kafka_offset": i,
        })
    return rows


def measure(rows: int, inserts: int, extra_sql: list[str], settings: dict[str, str],
            fmt: str = "json", cadence_share: float = 0.0) -> dict:
    """In this process: fresh schema, `inserts` inserts of `rows` rows; CPU per insert.

    `fmt` "json" sends the worker's JSON block (`insert_json`), "arrow" an Arrow block built
    from the same rows (`insert`); the block is built before the clock starts.
    """
    from touchline.sinks import clickhouse
    from touchline.sinks.clickhouse import ClickHouseSink
    from touchline.sinks.migrations import statements
    from touchline.sinks.rows import activities_json, activities_table

    clickhouse.INSERT_SETTINGS.update(settings)  # a variant's insert settings
    with tempfile.TemporaryDirectory(prefix="insert-cost-") as tmp:
        sink = ClickHouseSink(f"chdb://{tmp}/ch", database="touchline").start()
        sink.ensure_schema()
        for path in extra_sql:
            for statement in statements(Path(path).read_text(), "touchline"):
                sink.command(statement)
        encode, insert = ((activities_table, sink.insert) if fmt == "arrow"
                          else (activities_json, sink.insert_json))
        blocks = [encode(activity_rows(rows, k * rows, cadence_share))
                  for k in range(inserts + 5)]
        for k in range(5):  # warm-up: first parts, caches
            insert("activities", blocks[k], f"warm-{k}")

        def events() -> dict[str, int]:
            return dict(sink.query("SELECT event, value FROM system.events").rows)

        before, cpu0, wall0 = events(), time.process_time(), time.perf_counter()
        for k in range(5, inserts + 5):
            insert("activities", blocks[k], f"batch-{k}:activities")
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        after = events()
        count = sink.query("SELECT count() FROM touchline.activities").scalar()
        sink.close()
    assert count == rows * (inserts + 5), count
    timers = {name: sum(after.get(e, 0) - before.get(e, 0) for e in names) / inserts / 1000
              for name, names in ENGINE_TIMERS.items()}
    return {"cpu_ms_per_insert": 1000 * cpu / inserts, "wall_ms_per_insert": 1000 * wall / inserts,
            **timers}


def views_fed_by_activities() -> list[str]:
    """The materialized views an insert into `activities` feeds, on a fresh migrated schema."""
    from touchline.sinks.clickhouse import ClickHouseSink

    with tempfile.TemporaryDirectory(prefix="insert-cost-") as tmp:
        sink = ClickHouseSink(f"chdb://{tmp}/ch", database="touchline").start()
        sink.ensure_schema()
        views = sink.query("SELECT dependencies_table FROM system.tables "
                           "WHERE database = 'touchline' AND name = 'activities'").scalar()
        sink.close()
    return sorted(views)


def each_view_variants(directory: Path) -> list[str]:
    """`--variant` specs dropping one view each, and one dropping the projection."""
    drops = {f"no_{view}": f"DROP VIEW {{db}}.{view};" for view in views_fed_by_activities()}
    drops["no_projection"] = "ALTER TABLE {db}.activities DROP PROJECTION by_rep;"
    specs = []
    for name, sql in drops.items():
        path = directory / f"{name}.sql"
        path.write_text(sql + "\n")
        specs.append(f"{name}={path}")
    return specs


def main() -> None:
    """Alternate the baseline and every variant over rounds; print medians as JSON lines."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1,1000", help="block sizes, comma-separated")
    ap.add_argument("--inserts", type=int, default=200, help="timed inserts per measurement")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variant", action="append", default=[],
                    help="name=file.sql[,file2.sql][+setting=value...]: SQL applied after "
                    "the migrations, insert settings added to the sink's")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--formats", default="json",
                    help="insert formats, comma-separated: json (the worker's), arrow")
    ap.add_argument("--cadence-share", type=float, default=0.0,
                    help="share of the touches that are cadence steps (default 0)")
    ap.add_argument("--each-view", action="store_true",
                    help="add a variant per view fed by the insert (that view dropped), and "
                    "one without the by_rep projection")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(measure(spec["rows"], spec["inserts"], spec["sql"], spec["settings"],
                                 spec["format"], spec["cadence_share"])))
        return
    variants = [] if args.no_baseline else [("baseline", [], {})]
    if args.each_view:  # the variants' files live as long as this run
        drops = tempfile.TemporaryDirectory(prefix="insert-cost-variants-")
        args.variant += each_view_variants(Path(drops.name))
    for v in args.variant:
        name, _, rest = v.partition("=")
        files, *pairs = rest.split("+")
        settings = dict(pair.split("=", 1) for pair in pairs)
        variants.append((name, [f for f in files.split(",") if f], settings))
    formats = args.formats.split(",")
    variants = [(f"{name}/{fmt}" if len(formats) > 1 else name, sql, settings, fmt)
                for name, sql, settings in variants for fmt in formats]
    results: dict[tuple[str, int], list[dict]] = {}
    for _ in range(args.rounds):
        for rows in (int(r) for r in args.rows.split(",")):
            inserts = args.inserts if rows < 100 else max(20, args.inserts // 4)
            for name, sql, settings, fmt in variants:
                spec = json.dumps({"rows": rows, "inserts": inserts, "sql": sql,
                                   "settings": settings, "format": fmt,
                                   "cadence_share": args.cadence_share})
                done = subprocess.run([sys.executable, __file__, "--child", spec],
                                      capture_output=True, text=True)
                if done.returncode:  # a variant the engine refuses: say why, go on
                    lines = done.stderr.strip().splitlines() or ["(no output)"]
                    print(f"{name} ({rows} rows) failed: {lines[-1][:300]}", file=sys.stderr)
                    continue
                results.setdefault((name, rows), []).append(
                    json.loads(done.stdout.strip().splitlines()[-1]))
    for (name, rows), runs in results.items():
        cpus = [r["cpu_ms_per_insert"] for r in runs]
        print(json.dumps({"variant": name, "rows": rows, "cpu_ms_per_insert_median":
                          round(statistics.median(cpus), 2),
                          "runs": [round(c, 2) for c in cpus],
                          **{f"{t}_median": round(statistics.median(r[t] for r in runs), 1)
                             for t in ENGINE_TIMERS}}))


if __name__ == "__main__":
    main()
