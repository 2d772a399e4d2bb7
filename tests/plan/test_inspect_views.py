"""Inspect views (sinks/ddl/0007): plan vs actual per prospect, lead and account.

The views judge against the engine's clock, so these rows are placed relative to the real now.
"""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.integration

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def rows(s, view, where=""):
    sql = f"SELECT * FROM touchline.{view} WHERE tenant = {{t:String}} {where}"
    return s.sink.query(sql, {"t": s.tenant}).dicts()


def test_cadence_adherence_and_touch_distribution(scenario):
    s = scenario
    s.load_plan()
    real_now = dt.datetime.now(dt.UTC)
    start = real_now - 8 * D - 2 * H  # outbound-8 offsets 0,1,3,5,8 days: 5 steps due
    batch = []
    for prospect, steps in (("p-skip", [1, 3]), ("p-good", [1, 2, 3, 4, 5])):
        for step in steps:
            offset = [0, 1, 3, 5, 8][step - 1]
            channel = ["email", "call", "email", "call", "call"][step - 1]
            late = 2 * D if (prospect, step) == ("p-good", 4) else dt.timedelta(0)
            batch.append(s.activity(channel, start + offset * D + late, "rep-1",
                                    prospect_id=prospect, account_id="acc-1",
                                    cadence_id="outbound-8", cadence_step=step))
    batch.append(s.activity("disposition", start + 4 * D, "rep-1", prospect_id="p-skip",
                            disposition="postpone"))
    s.insert_activities(batch)

    got = {r["prospect_id"]: r for r in rows(s, "cadence_adherence")}
    skip, good = got["p-skip"], got["p-good"]
    assert (skip["due_step"], skip["steps_done"], skip["steps_behind"]) == (5, 2, 3)
    assert skip["skipped_steps"] == [2]
    assert (skip["next_step"], skip["next_channel"]) == (2, "call")
    assert skip["disposition"] == "postpone" and skip["plan_version"] == "v1"
    assert (good["steps_behind"], good["skipped_steps"], good["late_steps"]) == (0, [], 1)
    assert (good["next_step"], good["next_channel"]) == (6, "email")

    dist = {r["touches"]: r for r in rows(s, "cadence_touch_distribution")}
    assert dist[2]["prospects"] == 1 and dist[2]["postponed"] == 1
    assert dist[5]["prospects"] == 1 and dist[5]["open"] == 1


def test_speed_to_lead_and_untouched_accounts(scenario):
    s = scenario
    s.load_plan()
    real_now = dt.datetime.now(dt.UTC)
    s.account("acc-b", "B", "smb")
    s.account("acc-a", "A", "smb")
    s.insert_activities([
        s.activity("lead", real_now - 3 * H, "sdr-1", prospect_id="lead-b", account_id="acc-b"),
        s.activity("call", real_now - 1 * H, "sdr-1", prospect_id="lead-b", account_id="acc-b"),
        s.activity("lead", real_now - 2 * H, "sdr-1", prospect_id="lead-a", account_id="acc-a"),
        s.activity("email", real_now - 10 * D, "sdr-1", account_id="acc-a"),
    ])
    leads = {r["prospect_id"]: r for r in rows(s, "speed_to_lead")}
    assert (leads["lead-b"]["response_s"], leads["lead-b"]["sla_s"],
            leads["lead-b"]["within_sla"]) == (7200, 4 * 3600, 1)
    assert leads["lead-a"]["first_touch_at"] is None and leads["lead-a"]["within_sla"] == 0
    assert leads["lead-a"]["tier"] == "A"

    accounts = {r["account_id"]: r for r in rows(s, "account_touch_status")}
    # acc-a's last touch is the 10-day-old email (a lead is not a touch): past tier A's 7d
    assert accounts["acc-a"]["is_untouched"] == 1
    assert accounts["acc-a"]["threshold_s"] == 7 * 86_400
    assert accounts["acc-b"]["is_untouched"] == 0


def test_variation_between_reps_and_segments(scenario, now):
    s = scenario
    s.load_plan()
    s.rep("fast", "sdr")
    s.rep("slow", "sdr")
    s.account("acc-e", "A", "enterprise")
    monday = (now - now.weekday() * D).replace(hour=0)
    batch = [s.activity("call", monday + i * H, "fast", account_id="acc-e") for i in range(100)]
    batch += [s.activity("call", monday + i * H, "slow", account_id="acc-x") for i in range(20)]
    s.insert_activities(batch)
    (row,) = rows(s, "team_week_variation", "AND activity = 'call_attempts'")
    assert (row["reps"], row["actual"], row["target"]) == (2, 120, 400.0)
    assert (row["min_attainment"], row["max_attainment"]) == (0.1, 0.5)
    assert (row["lagging_rep"], row["leading_rep"]) == ("slow", "fast")
    seg = {(r["segment"], r["tier"]): r["touches"] for r in rows(s, "segment_week_touches")}
    assert seg == {("enterprise", "A"): 100, ("unknown", "unknown"): 20}
