"""A plan change mid-month: history is judged by the plan that was in force at the time."""

from __future__ import annotations

import datetime as dt

import pytest

from touchline.plan.signals import evaluate, plan_in_force

pytestmark = pytest.mark.integration

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def _calls(s, rep, monday, n):
    # n call attempts spread over Monday..Wednesday of the week starting at `monday`
    return [s.activity("call", monday + dt.timedelta(hours=2 + (i % 3) * 24, minutes=i), rep)
            for i in range(n)]


def test_plan_change_mid_month(scenario, now):
    s = scenario
    this_monday = (now - now.weekday() * D).replace(hour=0)
    last_monday = this_monday - 7 * D
    change = last_monday + 2 * D  # Wednesday of last week
    s.load_plan(now - 60 * D, version="v1")  # sdr call_attempts 200/week
    s.load_plan(change, version="v2", edits={"call_attempts: 200": "call_attempts: 60"})
    s.rep("r1", "sdr")
    s.insert_activities(_calls(s, "r1", last_monday, 40) + _calls(s, "r1", this_monday, 40))

    assert plan_in_force(s.sink, s.tenant, change - H).plan_version == "v1"
    assert plan_in_force(s.sink, s.tenant, now).plan_version == "v2"

    # Inspect: each version counts for the part of the week it was in force
    weeks = s.sink.query(
        "SELECT plan_version, actual, target FROM touchline.rep_week_vs_target "
        "WHERE tenant = {t:String} AND activity = 'call_attempts' ORDER BY week_start",
        {"t": s.tenant}).rows
    assert weeks == [("v1+v2", 40, 100.0), ("v2", 40, 60.0)]  # 200*2/7 + 60*5/7 = 100

    def call_signals(at):
        return [x for x in evaluate(s.sink, at, [s.tenant])
                if x.kind == "activity_mix" and x.activity == "call_attempts"]

    # the evening before the change, the last 7 days are judged by v1 alone
    before = call_signals(change - H)
    assert len(before) == 1 and before[0].evidence["planned"] == 200.0
    assert "vs 200 planned (200/week, sdr)" in before[0].message
    # half a week after it: 3.5 days of each plan -> 100 + 30 planned
    half = call_signals(change + 3.5 * D)
    assert len(half) == 1 and half[0].evidence["planned"] == 130.0
    assert ("40 call attempts in the last 7 days vs 130 planned (200/week for 3.5d under v1; "
            "60/week for 3.5d under v2, sdr)") in half[0].message
    # now, the whole window is under v2: 40 of 60 -> on plan, no call signal
    assert call_signals(now) == []


def test_stage_sla_change_applies_from_its_effective_date(scenario, now):
    s = scenario
    s.load_plan(now - 60 * D, version="v1")  # smb discovery 5d
    s.load_plan(now + 1 * D, version="v2", edits={"discovery: 5d": "discovery: 20d"})
    s.account("acc-1", "B", "smb")
    s.opportunity("opp-1", "acc-1", "rep-a", "discovery", now - 8 * D)
    assert [x.subject_id for x in evaluate(s.sink, now, [s.tenant])
            if x.kind == "stuck_deal"] == ["opp-1"]
    assert [x for x in evaluate(s.sink, now + 2 * D, [s.tenant]) if x.kind == "stuck_deal"] == []
