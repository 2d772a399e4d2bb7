"""A plan change mid-month: history is judged by the plan that was in force at the time."""

from __future__ import annotations

import datetime as dt

import pytest

from touchline.plan.signals import evaluate, plan_in_force

pytestmark = pytest.mark.integration

D = dt.timedelta(days=1)


def _calls(s, rep, monday, n):
    # n call attempts spread over Monday..Wednesday of the week starting at `monday`
    return [s.activity("call", monday + dt.timedelta(hours=2 + (i % 3) * 24, minutes=i), rep)
            for i in range(n)]


def test_plan_change_mid_month(scenario, now):
    s = scenario
    this_monday = (now - now.weekday() * D).replace(hour=0)
    last_monday = this_monday - 7 * D
    s.load_plan(now - 60 * D, version="v1")  # sdr call_attempts 200/week
    # v2 takes effect on last week's Wednesday: last week is still judged by v1 (the plan in
    # force when the week started), this week by v2
    s.load_plan(last_monday + 2 * D, version="v2",
                edits={"call_attempts: 200": "call_attempts: 60"})
    s.rep("r1", "sdr")
    s.insert_activities(_calls(s, "r1", last_monday, 40) + _calls(s, "r1", this_monday, 40))

    assert plan_in_force(s.sink, s.tenant, last_monday + D).plan_version == "v1"
    assert plan_in_force(s.sink, s.tenant, now).plan_version == "v2"

    weeks = s.sink.query(
        "SELECT week_start, plan_version, actual, target FROM touchline.rep_week_vs_target "
        "WHERE tenant = {t:String} AND activity = 'call_attempts' ORDER BY week_start",
        {"t": s.tenant}).rows
    assert [(w[1], w[2], w[3]) for w in weeks] == [("v1", 40, 200), ("v2", 40, 60)]

    # Thursday noon last week, judged by v1: 40 of 100 planned by then -> off plan
    then = now - 7 * D
    old = [x for x in evaluate(s.sink, then, [s.tenant])
           if x.kind == "activity_mix" and x.activity == "call_attempts"]
    assert len(old) == 1
    assert old[0].evidence["plan_version"] == "v1"
    assert "40 call attempts this week vs 100 planned by now (200/week" in old[0].message
    # this week, judged by v2: 40 of 30 planned -> on plan, no call signal
    new = [x for x in evaluate(s.sink, now, [s.tenant])
           if x.kind == "activity_mix" and x.activity == "call_attempts"]
    assert new == []


def test_stage_sla_change_applies_from_its_effective_date(scenario, now):
    s = scenario
    s.load_plan(now - 60 * D, version="v1")  # smb discovery 5d
    s.load_plan(now + 1 * D, version="v2", edits={"discovery: 5d": "discovery: 20d"})
    s.account("acc-1", "B", "smb")
    s.opportunity("opp-1", "acc-1", "rep-a", "discovery", now - 8 * D)
    assert [x.subject_id for x in evaluate(s.sink, now, [s.tenant])
            if x.kind == "stuck_deal"] == ["opp-1"]
    assert [x for x in evaluate(s.sink, now + 2 * D, [s.tenant]) if x.kind == "stuck_deal"] == []
