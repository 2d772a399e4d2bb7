"""CPU of 5,000-row inserts every 0.25 s into a fresh schema, by MergeTree merge settings.

    python 20261206T102500Z-merge-settings.py VARIANT SECONDS

A fresh data directory (`touchline sink init`) in this process's embedded engine; the
variant's settings are set on every MergeTree table; then 5,000 rows (`/tmp/s12/stage.parquet`,
exported from a dense-shape store) are inserted as new events every 0.25 s. Prints one JSON
line: the process's CPU over the inserts, by thread name (`MergeMutate`: merges), insert
latency, a `count()`'s time, and each table's active parts, rows, highest level and bytes.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import chdb

HEURISTIC_OFF = "merge_selector_enable_heuristic_to_lower_max_parts_to_merge_at_once = 0"
SETTINGS = {
    "default": "",
    "noheur": HEURISTIC_OFF,
    "base10": "merge_selector_base = 10",
    "noheur_base10": f"{HEURISTIC_OFF}, merge_selector_base = 10",
    "noproj": "",
    "min10": "min_parts_to_merge_at_once = 10",
    "min10_nh": f"min_parts_to_merge_at_once = 10, {HEURISTIC_OFF}",
}
HZ = os.sysconf("SC_CLK_TCK")


def threads() -> dict[tuple[str, str], int]:
    """User + system ticks of each thread of this process, by (thread id, name)."""
    out: dict[tuple[str, str], int] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[tid, comm] = int(fields[11]) + int(fields[12])
    return out


def main(variant: str, seconds: float) -> None:
    """Insert for `seconds` under the variant's settings and print what it cost."""
    data = f"/tmp/s12/mt-{variant}"
    shutil.rmtree(data, ignore_errors=True)
    subprocess.run(["touchline", "sink", "init"], env=dict(os.environ, TOUCHLINE_DATA_DIR=data),
                   check=True, capture_output=True)
    conn = chdb.connect(f"{data}/clickhouse")
    cur = conn.cursor()
    cur.execute("SELECT database, name FROM system.tables "
                "WHERE database = 'touchline' AND engine LIKE '%MergeTree%'")
    for db, table in cur.fetchall() if SETTINGS[variant] else []:
        cur.execute(f"ALTER TABLE {db}.{table} MODIFY SETTING {SETTINGS[variant]}")
    if variant == "noproj":
        cur.execute("ALTER TABLE touchline.activities DROP PROJECTION by_rep")
    cur.execute("CREATE TABLE touchline.micro_stage ENGINE = Memory AS "
                "SELECT * FROM file('/tmp/s12/stage.parquet', Parquet)")
    ticks0, cpu0 = threads(), os.times()
    latencies: list[float] = []
    due = time.monotonic()
    end = due + seconds
    while time.monotonic() < end:
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        started = time.perf_counter()
        cur.execute(f"""
            INSERT INTO touchline.activities
            SELECT * REPLACE (concat(event_id, '-m{len(latencies)}') AS event_id,
                              now64(3) - toIntervalMillisecond(rand() % 60000) AS occurred_at,
                              now64(3) AS ingested_at)
            FROM touchline.micro_stage SETTINGS async_insert = 0""")
        latencies.append(time.perf_counter() - started)
        due += 0.25
    time.sleep(2)
    ticks1, cpu1 = threads(), os.times()
    by_name: dict[str, float] = collections.defaultdict(float)
    for (tid, comm), ticks in ticks1.items():
        by_name[comm] += (ticks - ticks0.get((tid, comm), 0)) / HZ
    cur.execute("SELECT table, count(), sum(rows), max(level), sum(bytes_on_disk) "
                "FROM system.parts WHERE database = 'touchline' AND active "
                "GROUP BY table ORDER BY 5 DESC LIMIT 12")
    parts = cur.fetchall()
    counts = []
    for _ in range(10):
        started = time.perf_counter()
        cur.execute("SELECT count() FROM touchline.activities")
        cur.fetchall()
        counts.append(time.perf_counter() - started)
    latencies.sort()
    top = sorted(by_name.items(), key=lambda x: -x[1])[:5]
    print(json.dumps({
        "variant": variant, "inserts": len(latencies),
        "cpu_s": round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 2),
        "merge_s": round(by_name.get("MergeMutate", 0.0), 2),
        "top": {name: round(spent, 2) for name, spent in top},
        "insert_p50": round(latencies[len(latencies) // 2], 3),
        "insert_p95": round(latencies[int(len(latencies) * 0.95)], 3),
        "count_ms": round(1000 * sorted(counts)[5], 1), "parts": parts,
    }), flush=True)
    conn.close()
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
