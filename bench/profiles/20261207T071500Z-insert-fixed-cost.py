"""CPU of one small insert into `activities` on the embedded engine, and where it goes.

A fresh schema, 5 warm-up inserts, then N inserts of R rows, with the engine's ProfileEvents
(`system.events`) read before and after: per insert, the process's CPU, the insert query's
time, the analysis and planning of the views' queries, and the merges' time (ms). The third
argument drops views (or the `by_rep` projection) first, comma-separated.

    python bench/profiles/20261207T071500Z-insert-fixed-cost.py 1 60 ""
    python bench/profiles/20261207T071500Z-insert-fixed-cost.py 1 60 touch_counts_mv,by_rep
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for insert_cost

from insert_cost import activity_rows

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.rows import activities_json

PLANNING = ("QueryPlanBuildMicroseconds", "QueryPlanOptimizeMicroseconds",
            "QueryPipelineBuildMicroseconds")


def main(rows: int, inserts: int, drops: list[str]) -> dict:
    """Per-insert milliseconds of CPU and of the engine's own timers."""
    with tempfile.TemporaryDirectory(prefix="insert-fixed-") as tmp:
        sink = ClickHouseSink(f"chdb://{tmp}/ch", database="touchline").start()
        sink.ensure_schema()
        for name in drops:
            sink.command("ALTER TABLE touchline.activities DROP PROJECTION by_rep"
                         if name == "by_rep" else f"DROP VIEW touchline.{name}")
        blocks = [activities_json(activity_rows(rows, k * rows, 0.3))
                  for k in range(inserts + 5)]
        for k in range(5):
            sink.insert_json("activities", blocks[k], f"warm-{k}")

        def events() -> dict[str, int]:
            return dict(sink.query("SELECT event, value FROM system.events").rows)

        before, cpu0 = events(), time.process_time()
        for k in range(5, inserts + 5):
            sink.insert_json("activities", blocks[k], f"batch-{k}")
        cpu, after = time.process_time() - cpu0, events()
        sink.close()
    per = {k: (after.get(k, 0) - before.get(k, 0)) / inserts / 1000 for k in after}
    return {"dropped": ",".join(drops) or "none", "rows": rows,
            "cpu_ms": round(1000 * cpu / inserts, 1),
            "insert_query_ms": round(per.get("InsertQueryTimeMicroseconds", 0), 1),
            "analysis_ms": round(per.get("QueryAnalysisMicroseconds", 0), 1),
            "planning_ms": round(sum(per.get(k, 0) for k in PLANNING), 1),
            "merges_ms": round(per.get("MergeMutateBackgroundExecutorTaskExecuteStepMicroseconds",
                                       0), 1)}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]),
                          [d for d in sys.argv[3].split(",") if d])))
