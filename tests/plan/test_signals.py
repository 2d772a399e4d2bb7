"""Coaching signals on scenarios with known truth (real embedded ClickHouse)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import pytest

from tests.plan.conftest import Scenario
from touchline.plan.rules import BY_KIND, IN_TURN, judged_on_pass
from touchline.plan.signals import evaluate, evaluate_and_reconcile, reconcile
from touchline.sinks.clickhouse import ClickHouseSink

pytestmark = pytest.mark.integration

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def kinds(signals, kind):
    return [s for s in signals if s.kind == kind]


def test_stuck_deal_judged_by_segment_sla(scenario, now):
    s = scenario
    s.load_plan()
    s.account("acc-smb", "B", "smb")
    s.account("acc-ent", "A", "enterprise")
    s.account("acc-mm", "B", "mid_market")
    # smb proposal SLA is 7d: parked for 10d -> stuck
    s.opportunity("opp-parked", "acc-smb", "rep-a", "proposal", now - 10 * D)
    # enterprise proposal SLA is 120d: 100d is within its long SLA -> no signal
    s.opportunity("opp-ent", "acc-ent", "rep-b", "proposal", now - 100 * D)
    # mid_market discovery SLA 14d: 3d -> fine; a won deal is never stuck
    s.opportunity("opp-fresh", "acc-mm", "rep-a", "discovery", now - 3 * D)
    s.opportunity("opp-won", "acc-smb", "rep-a", "won", now - 200 * D, closed=True)
    # an account missing from the dimension table falls back to the default segment
    s.opportunity("opp-unknown", "acc-nowhere", "rep-c", "negotiation", now - 31 * D)

    stuck = kinds(evaluate(s.sink, now, [s.tenant]), "stuck_deal")

    assert sorted(x.subject_id for x in stuck) == ["opp-parked", "opp-unknown"]
    parked = next(x for x in stuck if x.subject_id == "opp-parked")
    assert parked.rep_id == "rep-a"
    assert "proposal for 10d" in parked.message and "7d smb SLA" in parked.message
    assert parked.evidence["sla_s"] == 7 * 86_400
    unknown = next(x for x in stuck if x.subject_id == "opp-unknown")
    assert unknown.evidence["segment"] == "mid_market"


def test_enterprise_deal_fires_only_past_its_long_sla(scenario, now):
    s = scenario
    s.load_plan()
    s.account("acc-ent", "A", "enterprise")
    s.opportunity("opp-ent", "acc-ent", "rep-b", "negotiation", now - 179 * D)
    assert kinds(evaluate(s.sink, now, [s.tenant]), "stuck_deal") == []
    later = kinds(evaluate(s.sink, now + 2 * D, [s.tenant]), "stuck_deal")
    assert [x.subject_id for x in later] == ["opp-ent"]


def _cadence_rows(s, rep, prospect, start, steps, channels):
    rows = []
    for step in steps:
        offset = [0, 1, 3, 5, 8, 11, 15, 20][step - 1]
        kind = channels[step - 1]
        rows.append(s.activity(kind, start + offset * D + H, rep, prospect_id=prospect,
                               account_id=f"acc-{prospect}", cadence_id="outbound-8",
                               cadence_step=step))
    return rows


OUTBOUND_8 = ["email", "call", "email", "call", "call", "email", "call", "email"]


def test_rep_who_skips_calls(scenario, now):
    """The skipper only emails: cadence behind (next step a call) and calls off plan."""
    s = scenario
    s.load_plan()
    s.rep("skipper", "sdr")
    s.rep("steady", "sdr")
    monday = now - dt.timedelta(days=now.weekday(), hours=now.hour)
    rows = []
    start = now - 8 * D - 2 * H  # 8 days in: steps 1-4 are due (1 day of grace)
    for i in range(5):
        rows += _cadence_rows(s, "skipper", f"sk-{i}", start, [1, 3], OUTBOUND_8)
        rows += _cadence_rows(s, "steady", f"st-{i}", start, [1, 2, 3, 4], OUTBOUND_8)
    # high-impact activities of the last 7 days (sdr weekly targets: 200 call attempts,
    # 40 connected, 150 emails, 10 meetings)
    for i in range(160):
        at = monday + dt.timedelta(minutes=20 * i + 60)
        rows.append(s.activity("email", at, "skipper"))
        if i < 90:
            rows.append(s.activity("email", at, "steady"))
    for i in range(110):
        rows.append(s.activity("call", monday + dt.timedelta(minutes=15 * i + 60), "steady",
                               outcome="connected" if i % 2 else "no_answer"))
    for i in range(6):
        rows.append(s.activity("meeting", monday + dt.timedelta(hours=5 * i + 2), "skipper"))
        rows.append(s.activity("meeting", monday + dt.timedelta(hours=5 * i + 2), "steady"))
    s.insert_activities(rows)

    found = evaluate(s.sink, now, [s.tenant])

    behind = kinds(found, "cadence_behind")
    assert [(x.rep_id, x.subject_id) for x in behind] == [("skipper", "outbound-8")]
    assert behind[0].message.startswith(
        "Rep skipper: 5 of 5 prospects in cadence outbound-8 are two steps or more behind; "
        "next step is a call")
    assert behind[0].evidence["skipping_calls"] == 5
    mix = kinds(found, "activity_mix")
    assert sorted((x.rep_id, x.activity) for x in mix) == [
        ("skipper", "call_attempts"), ("skipper", "connected_calls")]
    calls = next(x for x in mix if x.activity == "call_attempts")
    assert calls.message == (
        "Rep skipper: 0 call attempts in the last 7 days vs 200 planned (200/week, sdr); "
        "emails sent at 110% of plan; move time to call attempts.")


def test_untouched_account_by_tier(scenario, now):
    s = scenario
    s.load_plan()
    s.account("acc-a", "A", "smb", owner="owner-1")
    s.account("acc-c", "C", "smb", owner="owner-2")
    s.insert_activities([
        s.activity("call", now - 10 * D, "rep-x", account_id="acc-a"),  # A: 7d limit
        s.activity("call", now - 10 * D, "rep-x", account_id="acc-c"),  # C: 30d limit
        s.activity("email", now - 2 * D, "rep-x", account_id="acc-fresh"),
    ])
    found = kinds(evaluate(s.sink, now, [s.tenant]), "untouched_account")
    assert [(x.subject_id, x.rep_id) for x in found] == [("acc-a", "owner-1")]
    assert "no touch for 10d (tier A limit 7d" in found[0].message


def test_signal_fires_once_then_resolves(scenario, now):
    s = scenario
    s.load_plan()
    s.account("acc-hot", "A", "smb")
    s.add("lead", now - 2 * H, "rep-l", prospect_id="p-1", account_id="acc-hot")
    s.add("lead", now - 10 * dt.timedelta(minutes=1), "rep-l", prospect_id="p-2",
          account_id="acc-hot")  # still within the 1h tier-A SLA

    first = evaluate(s.sink, now, [s.tenant])
    leads = kinds(first, "lead_sla")
    assert [x.subject_id for x in leads] == ["p-1"]
    assert "waited 2h without a touch, past the 1h speed-to-lead SLA" in leads[0].message
    r1 = reconcile(s.sink, first, now, [s.tenant])
    assert "lead_sla:p-1" in r1.fired and not r1.resolved
    firing = len(r1.fired)  # rep-l also trails this week's activity targets

    again = evaluate(s.sink, now + dt.timedelta(minutes=1), [s.tenant])
    r2 = reconcile(s.sink, again, now + dt.timedelta(minutes=1), [s.tenant])
    assert r2.fired == [] and r2.unchanged == firing and r2.resolved == []

    s.add("call", now + dt.timedelta(minutes=2), "rep-l", prospect_id="p-1",
          account_id="acc-hot")
    t3 = now + dt.timedelta(minutes=3)
    r3 = reconcile(s.sink, evaluate(s.sink, t3, [s.tenant]), t3, [s.tenant])
    assert r3.resolved == ["lead_sla:p-1"] and r3.fired == []
    r4 = reconcile(s.sink, evaluate(s.sink, t3, [s.tenant]), t3, [s.tenant])
    assert (r4.fired, r4.resolved, r4.refreshed) == ([], [], [])

    rows = s.sink.query(
        "SELECT status, count() FROM touchline.signals WHERE tenant = {t:String} "
        "AND signal_id = 'lead_sla:p-1' GROUP BY status ORDER BY status", {"t": s.tenant}).rows
    assert rows == [("firing", 1), ("resolved", 1)]
    current = s.sink.query(
        "SELECT status, resolved_at FROM touchline.signals_current WHERE tenant = {t:String} "
        "AND kind = 'lead_sla'", {"t": s.tenant}).rows
    assert len(current) == 1 and current[0][0] == "resolved" and current[0][1] is not None


def test_busy_emailer_gets_a_mix_signal(scenario, now):
    s = scenario
    s.load_plan()
    s.rep("emailer", "sdr")
    start = now - 6 * D
    rows = [s.activity("call", start + dt.timedelta(minutes=20 * i), "emailer",
                       outcome="connected" if i % 4 == 0 else "no_answer") for i in range(220)]
    rows += [s.activity("email", start + dt.timedelta(minutes=9 * i), "emailer")
             for i in range(900)]
    rows += [s.activity("meeting", start + i * 10 * H, "emailer") for i in range(12)]
    s.insert_activities(rows)
    mix = kinds(evaluate(s.sink, now, [s.tenant]), "activity_mix")
    assert [(x.rep_id, x.activity) for x in mix] == [("emailer", "call_attempts")]
    assert mix[0].message == (
        "Rep emailer: call attempts are 20% of calls and emails in the last 7 days vs 57% "
        "planned (220 calls, 900 emails); move time from emails sent to call attempts.")


@contextlib.contextmanager
def own_database(scenario: Scenario, now: dt.datetime, name: str) -> Iterator[Scenario]:
    """A scenario in a database of its own on the same engine.

    A pass judges every planned tenant, and the shared database holds other tests' plans and
    deals.
    """
    sink = ClickHouseSink(scenario.sink.dsn, database=name).start()
    try:
        sink.ensure_schema()
        yield Scenario(sink, scenario.tenant, now)
    finally:
        sink.close()  # the engine closes with the package's last handle


def test_a_pass_with_no_plan_in_force_runs_no_rule_query(scenario, now, monkeypatch):
    with own_database(scenario, now, "touchline_unplanned") as s:
        unplanned = s.sink
        s.account("acc-smb", "B", "smb")
        s.opportunity("opp-parked", "acc-smb", "rep-a", "proposal", now - 10 * D)
        asked: list[str] = []
        query = unplanned.query
        monkeypatch.setattr(unplanned, "query",
                            lambda sql, *args, **kw: asked.append(sql) or query(sql, *args, **kw))

        assert str(evaluate_and_reconcile(unplanned, now)) == (
            "0 fired, 0 refreshed, 0 resolved, 0 unchanged")
        assert asked and not [sql for sql in asked if ".rule_" in sql]

        s.load_plan()  # the same deal, judged once a plan is in force
        fired = evaluate_and_reconcile(unplanned, now).fired
        assert [f for f in fired if f.startswith("stuck_deal:opp-parked:")]
        assert [sql for sql in asked if ".rule_stuck_deals" in sql]


def _turn_of(kind: str) -> int:
    """The number of a leader's Coach pass that judges `kind` in its turn."""
    return IN_TURN.index(BY_KIND[kind])


def test_a_pass_leaves_the_signals_of_rules_it_did_not_judge(scenario, now):
    """The leader's passes take turns: a deal that moved on stays firing until its rule's turn."""
    with own_database(scenario, now, "touchline_turns") as s:
        own = s.sink
        s.load_plan()
        s.account("acc-smb", "B", "smb")
        s.opportunity("opp-parked", "acc-smb", "rep-a", "proposal", now - 10 * D)  # SLA 7d
        everything = evaluate_and_reconcile(own, now)
        stuck = [f for f in everything.fired if f.startswith("stuck_deal:opp-parked:")]
        assert len(stuck) == 1, everything.fired

        s.opportunity("opp-parked", "acc-smb", "rep-a", "won", now + H, closed=True)
        s.add("lead", now + H, "rep-a", prospect_id="p-2", account_id="acc-smb")  # tier B: 4h
        later = now + 6 * H  # p-2 waited 5h, past its SLA; the deal was won
        other = _turn_of("idle_rep")
        assert {r.kind for r in judged_on_pass(other)} == {"lead_sla", "idle_rep"}
        r1 = evaluate_and_reconcile(own, later, judged=judged_on_pass(other))
        assert r1.fired == ["lead_sla:p-2"] and r1.resolved == [], r1
        firing = own.query(
            "SELECT status FROM touchline_turns.signals FINAL WHERE signal_id = {id:String}",
            {"id": stuck[0]}).rows
        assert firing == [("firing",)]

        r2 = evaluate_and_reconcile(own, later, judged=judged_on_pass(_turn_of("stuck_deal")))
        assert r2.resolved == stuck and r2.fired == [], r2
