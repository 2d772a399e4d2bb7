"""'My prospects due a touch' right after generating rows, and again once every part is merged.

python bench/profiles/20261206T233000Z-rep-panel-merged.py CHDB_DIR ROWS: in-process, a fresh
directory; generates ROWS of the `org` shape (touchline/bench/queries.py `generate`, in chunks
of 1M so that a cadence's rows land in several parts, as the viewers section's 10M chunks do at
100M), times the panel's SQL three times, merges every table (OPTIMIZE ... FINAL) and times it
three times more.
"""

from __future__ import annotations

import resource
import sys
import time

from touchline.bench.queries import VARIABLES, generate
from touchline.dashboards.local.catalog import dashboards
from touchline.dashboards.local.sqlcheck import expanded
from touchline.sinks.clickhouse import ClickHouseSink

PARTS = ("SELECT table, count(), sum(rows) FROM system.parts WHERE active AND database = "
         "'touchline' AND table IN ('cadence_touches', 'prospect_exits', 'activities') "
         "GROUP BY table ORDER BY table")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(sink: ClickHouseSink, sql: str) -> list[tuple[int, int]]:
    out = []
    for _ in range(3):
        cpu_before, started = cpu(), time.perf_counter()
        sink.query(sql)
        out.append((round((time.perf_counter() - started) * 1000),
                    round((cpu() - cpu_before) * 1000)))
    return out


def main() -> None:
    sink = ClickHouseSink(f"chdb://{sys.argv[1]}").start()
    sink.ensure_schema()
    generate(sink.command, int(sys.argv[2]), chunk=1_000_000, shape="org")
    board = next(b for b in dashboards() if b.uid == "touchline-rep")
    panel = next(p for p in board.panels if p.title == "My prospects due a touch")
    sql = expanded(panel, VARIABLES["touchline-rep"])
    print("unmerged:", sink.query(PARTS).rows, "wall/cpu ms", timed(sink, sql), flush=True)
    tables = [r[0] for r in sink.query("SELECT name FROM system.tables WHERE database = "
                                       "'touchline' AND engine LIKE '%MergeTree'").rows]
    for table in tables:
        sink.command(f"OPTIMIZE TABLE touchline.{table} FINAL")
    print("merged:  ", sink.query(PARTS).rows, "wall/cpu ms", timed(sink, sql), flush=True)
    sink.close()


if __name__ == "__main__":
    main()
