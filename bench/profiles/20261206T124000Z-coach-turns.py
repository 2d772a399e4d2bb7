"""What each Coach pass judges and costs: every rule at once against the six turns.

    python 20261206T124000Z-coach-turns.py DATA_DIR ROUNDS

Opens DATA_DIR (a store's data directory with a plan in force, its store stopped) in this
process's embedded engine and, ROUNDS times alternated, judges every planned tenant at now:
once by every rule (the pass before turns) and once by each turn's rules
(touchline.plan.rules `judged_on_pass`). Only the rule views are read (`evaluate`); nothing is
written. Prints one JSON line per pass: its rules, wall seconds, this process's CPU seconds
(the engine's threads included) and the signals found.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time

from touchline.plan.rules import IN_TURN, RULES, judged_on_pass
from touchline.plan.signals import evaluate
from touchline.sinks.clickhouse import ClickHouseSink


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(data_dir: str, rounds: int) -> None:
    sink = ClickHouseSink(f"chdb://{data_dir}/clickhouse").start()
    evaluate(sink)  # warm: marks, caches, the views' first parse
    passes = [("all", RULES)] + [(f"turn {n}", judged_on_pass(n)) for n in range(len(IN_TURN))]
    for r in range(rounds):
        for name, judged in passes:
            c, t = cpu(), time.monotonic()
            found = evaluate(sink, dt.datetime.now(dt.UTC), judged=judged)
            print(json.dumps({"round": r, "pass": name, "rules": [x.kind for x in judged],
                              "wall_s": round(time.monotonic() - t, 3),
                              "cpu_s": round(cpu() - c, 3), "signals": len(found)}), flush=True)
    sink.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
