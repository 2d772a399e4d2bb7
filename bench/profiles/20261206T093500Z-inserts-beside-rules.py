"""Insert latency while the Coach's rule queries run beside it, by the queries' settings.

    python 20261206T093500Z-inserts-beside-rules.py [burn] [VARIANT,...] [ROUNDS]

One process, one embedded engine (a copy of a dense-shape store at PATH): one session inserts
5,000 rows (copied from the store, new event ids, times within the last minute) every 0.25 s
for 20 s per variant, while another session runs the seven rule views back to back with the
variant's settings. `burn` starts a process spinning 70% of a core beside them (the worker
and the broker of a full run). Prints one JSON line per variant and round: insert latency
p50, p95 and max, and how far the inserts fell behind their schedule.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

import chdb

PATH = "/tmp/s12/micro/clickhouse"
RULES = ("rule_stuck_deals", "rule_inactive_deals", "rule_untouched_accounts",
         "rule_cadences_behind", "rule_leads_over_sla", "rule_activity_mix", "rule_idle_reps")
VARIANTS: dict[str, dict[str, int] | None] = {
    "none": None,
    "nice10": {"os_thread_priority": 10},
    "nice0": {"os_thread_priority": 0},
    "nice10_t1": {"os_thread_priority": 10, "max_threads": 1},
    "nice0_t1": {"os_thread_priority": 0, "max_threads": 1},
    "nice19": {"os_thread_priority": 19},
}
BURN = """
import time
while True:
    t = time.perf_counter()
    while time.perf_counter() - t < 0.07:
        pass
    time.sleep(0.03)
"""

writer = chdb.connect(PATH)
cursor = writer.cursor()
stop = threading.Event()
batches = [0]


def prepare() -> None:
    """The 5,000 rows each insert copies."""
    cursor.execute("DROP TABLE IF EXISTS touchline.micro_stage")
    cursor.execute("CREATE TABLE touchline.micro_stage ENGINE = Memory AS "
                   "SELECT * FROM touchline.activities "
                   "WHERE occurred_at > now64(3) - INTERVAL 20 DAY LIMIT 5000")


def insert_once() -> float:
    """One insert of the staged rows as new events; its wall time."""
    batches[0] += 1
    started = time.perf_counter()
    cursor.execute(f"""
        INSERT INTO touchline.activities
        SELECT * REPLACE (concat(event_id, '-m{batches[0]}') AS event_id,
                          now64(3) - toIntervalMillisecond(rand() % 60000) AS occurred_at)
        FROM touchline.micro_stage SETTINGS async_insert = 0, insert_deduplicate = 0""")
    return time.perf_counter() - started


def read_rules(settings: dict[str, int]) -> None:
    """The seven rule views back to back until `stop`."""
    reader = chdb.connect(PATH)
    rc = reader.cursor()
    given = ", ".join(f"{k} = {v}" for k, v in settings.items())
    while not stop.is_set():
        for rule in RULES:
            if stop.is_set():
                break
            rc.execute(f"SELECT count() FROM touchline.{rule}(tenant = 'acme', now = now64(3)) "
                       f"SETTINGS {given}")
            rc.fetchall()
    reader.close()


def phase(name: str, seconds: float = 20.0) -> dict[str, Any]:
    """Inserts on schedule for `seconds`, with the variant's reader beside them."""
    settings = VARIANTS[name]
    stop.clear()
    reader = threading.Thread(target=read_rules, args=(settings,)) if settings else None
    if reader:
        reader.start()
    latencies, behind = [], 0.0
    due = time.monotonic()
    end = due + seconds
    while time.monotonic() < end:
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        behind += max(0.0, time.monotonic() - due)
        latencies.append(insert_once())
        due += 0.25
    stop.set()
    if reader:
        reader.join()
    latencies.sort()

    def at(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3)

    return {"variant": name, "inserts": len(latencies), "p50": at(0.5), "p95": at(0.95),
            "max": round(latencies[-1], 3), "behind_s": round(behind, 2)}


def main(argv: list[str]) -> None:
    """Run the variants named in `argv` (all by default) for the rounds asked."""
    burner = subprocess.Popen([sys.executable, "-c", BURN]) if argv[:1] == ["burn"] else None
    order = argv[1].split(",") if len(argv) > 1 else list(VARIANTS)
    rounds = int(argv[2]) if len(argv) > 2 else 1
    prepare()
    try:
        for _ in range(rounds):
            for name in order:
                print(json.dumps(phase(name)), flush=True)
    finally:
        if burner:
            burner.kill()
        cursor.execute("DROP TABLE IF EXISTS touchline.micro_stage")


if __name__ == "__main__":
    main(sys.argv[1:])
