"""'My prospects due a touch' over `cadence_touches` keyed by cadence (0047) or by rep first.

python bench/profiles/20261206T225300Z-cadence-rollup-by-rep.py CHDB_DIR [ROUNDS] [--setup],
in-process on a directory that holds generated rows (touchline/bench/queries.py `generate`).
`--setup` copies the rollup into `cadence_touches_byrep` (ORDER BY tenant, rep_id, cadence_id,
prospect_id), creates 0047's `cadence_progress` over it as `cadence_progress_byrep`, and merges
both tables; then the panel's SQL runs against each, alternated, and the rows are compared.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

from touchline.bench.queries import VARIABLES
from touchline.dashboards.local.catalog import dashboards
from touchline.dashboards.local.sqlcheck import expanded
from touchline.sinks.clickhouse import ClickHouseSink

DDL = Path(__file__).resolve().parents[2] / "sinks" / "ddl" / "0047_cadence_touches.sql"
VIEW = "CREATE OR REPLACE VIEW {db}.cadence_progress AS"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def setup(sink: ClickHouseSink) -> None:
    text = DDL.read_text()
    view = (text[text.index(VIEW):]
            .replace("{db}.cadence_progress AS", "{db}.cadence_progress_byrep AS")
            .replace("{db}.cadence_touches", "{db}.cadence_touches_byrep")
            .replace("{db}", "touchline"))
    sink.command("DROP TABLE IF EXISTS touchline.cadence_touches_byrep")
    sink.command("CREATE TABLE touchline.cadence_touches_byrep AS touchline.cadence_touches "
                 "ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(started_at) "
                 "ORDER BY (tenant, rep_id, cadence_id, prospect_id) "
                 "SETTINGS min_bytes_for_full_part_storage = 10485760")
    sink.command("INSERT INTO touchline.cadence_touches_byrep "
                 "SELECT * FROM touchline.cadence_touches")
    for statement in (s for s in view.split(";") if s.strip()):
        sink.command(statement)
    for table in ("cadence_touches", "cadence_touches_byrep"):
        sink.command(f"OPTIMIZE TABLE touchline.{table} FINAL")


def main() -> None:
    sink = ClickHouseSink(f"chdb://{sys.argv[1]}").start()
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 4
    board = next(b for b in dashboards() if b.uid == "touchline-rep")
    panel = next(p for p in board.panels if p.title == "My prospects due a touch")
    sql = expanded(panel, VARIABLES["touchline-rep"])
    if "--setup" in sys.argv:
        setup(sink)
    print(sink.query("SELECT table, count(), sum(rows) FROM system.parts WHERE active "
                     "AND table LIKE 'cadence_touches%' GROUP BY table").rows)
    variants = {"by cadence (0047)": sql,
                "by rep": sql.replace("touchline.cadence_progress(",
                                      "touchline.cadence_progress_byrep(")}
    times: dict[str, list[tuple[int, int]]] = {k: [] for k in variants}
    rows: dict[str, list] = {}
    for _ in range(rounds):
        for name, text in variants.items():
            cpu_before, started = cpu(), time.perf_counter()
            rows[name] = sink.query(text).rows
            times[name].append((round((time.perf_counter() - started) * 1000),
                                round((cpu() - cpu_before) * 1000)))
    for name, measured in times.items():
        print(name, "wall/cpu ms", measured, "rows", len(rows[name]))
    same = sorted(map(str, rows["by cadence (0047)"])) == sorted(map(str, rows["by rep"]))
    print("same rows:", same)
    sink.close()


if __name__ == "__main__":
    main()
