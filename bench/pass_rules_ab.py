"""The Coach pass's seven rule queries, timed for the rule views before 0044-0046 and now.

A pass reads each rule view once (touchline/plan/rules.py RULES). Migrations 0044-0046 rewrote
three of the views the rules read (`open_deals_vs_sla`, `rule_leads_over_sla`,
`rep_activity_vs_plan`); their earlier texts are created beside them as `old_*` (and the rules
reading them, `old_rule_inactive_deals` and `old_rule_activity_mix`), then each round times
every rule for both, alternating which goes first, in this process's engine (wall time and
this process's CPU). The `old_*` views are dropped at the end.

    python bench/viewers_ab.py --data-dir /tmp/org --shape org --rows 100M .   # the rows, once
    python bench/pass_rules_ab.py --data-dir /tmp/org --rounds 4

The data directory must not be open in another process (stop its `touchline store`). One
JSON line per round and variant goes to `--out`.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

#: each view rewritten by 0044-0046 or reading one -> the migration of the text it replaced
BEFORE = {"open_deals_vs_sla": "0020_open_deal_dwell", "rule_inactive_deals": "0013_rules",
          "rule_leads_over_sla": "0013_rules", "rep_activity_vs_plan": "0040_activity_plan_window",
          "rule_activity_mix": "0013_rules"}
RULES = ("rule_stuck_deals", "rule_inactive_deals", "rule_untouched_accounts",
         "rule_cadences_behind", "rule_leads_over_sla", "rule_activity_mix", "rule_idle_reps")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _create_before(query) -> None:
    from touchline.sinks.migrations import earlier_view

    for view, migration in BEFORE.items():
        query(earlier_view(migration, view, "touchline", set(BEFORE) - {view}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--out", type=Path, help="JSON lines (default: DATA_DIR/pass-rules.jsonl)")
    args = parser.parse_args()
    from chdb import session

    engine = session.Session(str(args.data_dir / "clickhouse"))
    engine.query("SET use_query_condition_cache = 0")
    _create_before(engine.query)
    out = args.out or args.data_dir / "pass-rules.jsonl"
    try:
        for n in range(args.rounds):
            for variant in ("before", "now") if n % 2 == 0 else ("now", "before"):
                row: dict = {"variant": variant, "round": n,
                             "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                for rule in RULES:
                    view = f"old_{rule}" if variant == "before" and rule in BEFORE else rule
                    wall, cpu = time.perf_counter(), _cpu_s()
                    found = engine.query(f"SELECT count() FROM touchline.{view}("
                                         f"tenant = '{args.tenant}', now = now64(3))", "TSV")
                    row[rule] = {"wall_s": round(time.perf_counter() - wall, 2),
                                 "cpu_s": round(_cpu_s() - cpu, 2),
                                 "rows": int(str(found).strip())}
                row["wall_s"] = round(sum(row[r]["wall_s"] for r in RULES), 2)
                row["cpu_s"] = round(sum(row[r]["cpu_s"] for r in RULES), 2)
                with out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{variant:6} round {n}: {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s "
                      "CPU; " + ", ".join(f"{r[5:]} {row[r]['wall_s']}" for r in RULES),
                      flush=True)
    finally:
        for view in BEFORE:
            engine.query(f"DROP VIEW IF EXISTS touchline.old_{view}")


if __name__ == "__main__":
    main()
