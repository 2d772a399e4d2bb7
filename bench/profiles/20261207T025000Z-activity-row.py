"""CPU per event of `activity_row` as shipped against the one it replaced (2026-12-07 02:50).

    python bench/profiles/20261207T025000Z-activity-row.py

Validates 30,000 of the benchmark's events once, then times each builder over all of them
(best of 9, process CPU), three rounds, and checks that both give the same rows, keys in the
same order, over 114,000 simulator events with anomalies.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from touchline.bench.payloads import events
from touchline.load.simulator import Anomalies, Simulator
from touchline.schemas.activity import activity_adapter
from touchline.schemas.activity_row import activity_row
from touchline.schemas.stages import stage_outcome


def before(event: Any) -> dict[str, Any]:
    """`activity_row` as it was up to 2026-12-07: every column's entry built with a lookup."""
    d = event.__dict__
    get = d.get
    kind = d["type"]
    if kind == "stage_change":
        closed, won = stage_outcome(d["to_stage"], d["is_closed"], d["is_won"])
    else:
        closed = won = False
    status = get("status", "")
    return {
        "event_id": d["event_id"], "tenant": d["tenant"], "type": kind,
        "occurred_at": int(d["occurred_at"].timestamp() * 1000), "source": d["source"],
        "rep_id": d["rep_id"], "team_id": d["team_id"], "account_id": d["account_id"],
        "prospect_id": d["prospect_id"] or "", "opportunity_id": d["opportunity_id"] or "",
        "cadence_id": d["cadence_id"] or "", "cadence_step": d["cadence_step"] or 0,
        "channel": event.channel, "is_touch": 1 if event.is_touch else 0,
        "direction": get("direction", ""), "outcome": get("outcome", ""),
        "duration_s": get("duration_s", 0), "email_action": get("action", ""),
        "meeting_status": status if kind == "meeting" else "",
        "from_stage": get("from_stage", "") or "", "to_stage": get("to_stage", ""),
        "disposition": get("disposition", ""),
        "lead_status": status if kind == "lead" else "",
        "schema_version": d["schema_version"], "motion": d["motion"] or "",
        "product_line": d["product_line"] or "", "editor_id": d["editor_id"] or "",
        "vendor_stage": get("vendor_stage", "") or "",
        "is_closed": 1 if closed else 0, "is_won": 1 if won else 0,
    }


def cpu_us(build: Callable[[Any], dict[str, Any]], evs: list[Any]) -> float:
    best = float("inf")
    for _ in range(9):
        start = time.process_time()
        for event in evs:
            build(event)
        best = min(best, time.process_time() - start)
    return best / len(evs) * 1e6


def same_rows() -> int:
    checked = 0
    anomalies = Anomalies(duplicates=0.0, out_of_order=0.2, late=0.1, malformed=0.05)
    for seed in range(3):
        sim = Simulator(seed=seed, tenant="t", anomalies=anomalies, teams=6)
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)
        for payload in itertools.islice(sim.payloads(start, 20.0), 40_000):
            try:
                event = activity_adapter.validate_json(payload)
            except ValidationError:
                continue
            old, new = before(event), activity_row(event)
            assert old == new and list(old) == list(new), (old, new)
            checked += 1
    return checked


def main() -> None:
    evs = [activity_adapter.validate_json(p) for p in events(30_000, 1)]
    for _ in range(3):
        print(f"before {cpu_us(before, evs):.2f} µs an event, "
              f"shipped {cpu_us(activity_row, evs):.2f} µs")
    print(f"the same rows for {same_rows():,} simulator events")


if __name__ == "__main__":
    main()
