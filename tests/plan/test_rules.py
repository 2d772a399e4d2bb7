"""The coaching rules, each one view (sinks/ddl/0013_rules.sql), and their readers agreeing.

The signal evaluator and the Grafana alert rules (as provisioned, evaluated the way Grafana
does) must name the same entities on the same data, for every rule.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.plan.conftest import Scenario
from touchline.dashboards.local import alerts_check as chk
from touchline.dashboards.provisioning_files import rules_file
from touchline.plan import rules
from touchline.plan.signals import evaluate

pytestmark = pytest.mark.integration

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
OUTBOUND_8 = ["email", "call", "email", "call", "call", "email", "call", "email"]

#: alert uid -> (signal kind, the labels naming the entity, in the rule's entity order)
ALERT_ENTITIES = {
    "touchline-stuck-deal": ("stuck_deal", ("opportunity",)),
    "touchline-deal-inactive": ("deal_inactive", ("opportunity",)),
    "touchline-untouched-account": ("untouched_account", ("account",)),
    "touchline-cadence-behind": ("cadence_behind", ("rep", "cadence")),
    "touchline-speed-to-lead": ("lead_sla", ("prospect",)),
    "touchline-activity-mix": ("activity_mix", ("rep", "activity")),
    "touchline-idle-rep": ("idle_rep", ("rep",)),
}


def _every_rule_fires(s, now):
    """One scenario in which each rule fires for some entities and not for others."""
    s.load_plan()
    for rep, role in (("sdr-1", "sdr"), ("sdr-2", "sdr"), ("ae-1", "ae"), ("idle-1", "sdr")):
        s.rep(rep, role)
    s.account("acc-smb", "B", "smb", owner="ae-1")
    s.account("acc-ent", "B", "enterprise", owner="ae-1")
    s.account("acc-a", "A", "smb", owner="sdr-1")
    s.account("acc-c", "C", "smb", owner="sdr-2")
    # stuck: smb proposal 10d (SLA 7d); enterprise discovery 20d is within its 90d SLA but no
    # touch on its account for 20d (inactive after 14d); the smb deal's account is busy
    s.opportunity("opp-stuck", "acc-smb", "ae-1", "proposal", now - 10 * D)
    s.opportunity("opp-quiet", "acc-ent", "ae-1", "discovery", now - 20 * D)
    s.opportunity("opp-fine", "acc-smb", "ae-1", "demo", now - 2 * D)
    rows = [s.activity("meeting", now - 1 * D, "ae-1", account_id="acc-smb"),
            s.activity("call", now - 20 * D, "ae-1", account_id="acc-ent")]
    # untouched: tier A 10d (limit 7d) fires, tier C 10d (limit 30d) does not
    rows += [s.activity("call", now - 10 * D, "sdr-1", account_id="acc-a"),
             s.activity("call", now - 10 * D, "sdr-2", account_id="acc-c")]
    # cadence: sdr-1 did step 1 only for 4 prospects 8 days in; sdr-2 is on track
    start = now - 8 * D - 2 * H
    for i in range(4):
        rows.append(s.activity("email", start, "sdr-1", prospect_id=f"p1-{i}",
                               account_id="acc-a", cadence_id="outbound-8", cadence_step=1))
        for step, offset in ((1, 0), (2, 1), (3, 3), (4, 5)):
            rows.append(s.activity(OUTBOUND_8[step - 1], start + offset * D, "sdr-2",
                                   prospect_id=f"p2-{i}", account_id="acc-c",
                                   cadence_id="outbound-8", cadence_step=step))
    # speed to lead: one lead 3h untouched (tier A, 1h), one touched in 10 minutes
    rows += [s.activity("lead", now - 3 * H, "sdr-1", prospect_id="lead-late", account_id="acc-a"),
             s.activity("lead", now - 2 * H, "sdr-2", prospect_id="lead-ok", account_id="acc-c"),
             s.activity("call", now - 2 * H + 10 * dt.timedelta(minutes=1), "sdr-2",
                        prospect_id="lead-ok", account_id="acc-c")]
    # activity vs plan: sdr-2 dials a lot but mostly emails (mix); idle-1 stopped 9.5 days ago
    rows += [s.activity("call", now - 6 * D + i * 30 * dt.timedelta(minutes=1), "sdr-2")
             for i in range(220)]
    rows += [s.activity("email", now - 6 * D + i * 9 * dt.timedelta(minutes=1), "sdr-2")
             for i in range(900)]
    rows.append(s.activity("call", now - 9.5 * D, "idle-1", account_id="acc-c"))
    rows.append(s.activity("call", now - 1 * D, "sdr-1"))  # sdr-1 is behind, not idle
    s.insert_activities(rows)


def _alert_entities(sink, tenant, now):
    out: dict[str, set[tuple[str, ...]]] = {}
    for group in rules_file()["groups"]:
        for rule in group["rules"]:
            if rule["uid"] not in ALERT_ENTITIES:
                continue
            kind, labels = ALERT_ENTITIES[rule["uid"]]
            result = chk.evaluate(sink, rule, group["name"], now)
            assert not result.error, (rule["uid"], result.error)
            out[kind] = {(f.labels["tenant"], *(f.labels[x] for x in labels))
                         for f in result.firing if f.labels["tenant"] == tenant}
    return out


def _signal_entities(signals):
    out: dict[str, set[tuple[str, ...]]] = {k: set() for k in rules.KINDS}
    for sig in signals:
        rule = rules.BY_KIND[sig.kind]
        ids = {"opportunity_id": sig.subject_id, "account_id": sig.subject_id,
               "prospect_id": sig.subject_id, "cadence_id": sig.subject_id,
               "rep_id": sig.rep_id, "activity": sig.activity}
        out[sig.kind].add((sig.tenant, *(ids[c] for c in rule.entity)))
    return out


def test_alerts_and_signals_name_the_same_entities_for_every_rule(scenario, now):
    s = scenario
    _every_rule_fires(s, now)
    signals = _signal_entities(evaluate(s.sink, now, [s.tenant]))
    alerts = _alert_entities(s.sink, s.tenant, now)
    assert set(alerts) == set(rules.KINDS)  # every rule has an alert
    for kind in rules.KINDS:
        assert signals[kind], f"{kind}: the scenario must make the rule fire"
        assert alerts[kind] == signals[kind], kind
    t = s.tenant
    assert signals["stuck_deal"] == {(t, "opp-stuck")}
    assert signals["deal_inactive"] == {(t, "opp-quiet")}
    # tier A 10 days (limit 7d) and tier B 20 days (14d); tier C 10 days is within its 30d
    assert signals["untouched_account"] == {(t, "acc-a"), (t, "acc-ent")}
    assert signals["cadence_behind"] == {(t, "sdr-1", "outbound-8")}
    assert signals["lead_sla"] == {(t, "lead-late")}
    assert signals["idle_rep"] == {(t, "idle-1")}
    assert (t, "sdr-2", "call_attempts") in signals["activity_mix"]  # 20% calls vs 57%


def test_one_pass_over_every_tenant_gives_each_tenant_its_own_signals(scenario, now):
    """A Coach pass reads each rule once for all tenants; no tenant gains or loses a signal."""
    first = scenario
    _every_rule_fires(first, now)
    second = Scenario(first.sink, f"{first.tenant}-b", now)
    second.load_plan()
    second.rep("idle-1", "sdr")  # idle in this tenant too: one call 9.5 days ago
    second.insert_activities([second.activity("call", now - 9.5 * D, "idle-1")])
    by_tenant = {t: evaluate(first.sink, now, [t]) for t in (first.tenant, second.tenant)}
    every = evaluate(first.sink, now)

    for tenant, alone in by_tenant.items():
        assert alone, tenant
        mine = [x for x in every if x.tenant == tenant]
        assert sorted((x.signal_id, x.message) for x in mine) == sorted(
            (x.signal_id, x.message) for x in alone), tenant
    assert ("idle_rep", "idle-1") in {(x.kind, x.rep_id) for x in by_tenant[second.tenant]}
    assert {x.kind for x in by_tenant[first.tenant]} == set(rules.KINDS)


def test_the_comparison_can_fail(scenario, now):
    """An alert query that drops one entity no longer matches the signals."""
    s = scenario
    _every_rule_fires(s, now)
    signals = _signal_entities(evaluate(s.sink, now, [s.tenant]))
    rule = next(r for g in rules_file()["groups"] for r in g["rules"]
                if r["uid"] == "touchline-idle-rep")
    query = next(d for d in rule["data"] if d["refId"] == "A")
    query["model"]["rawSql"] += "\nWHERE rep_id != 'idle-1'"
    result = chk.evaluate(s.sink, rule, "touchline-coaching", now)
    assert {(f.labels["tenant"], f.labels["rep"]) for f in result.firing
            if f.labels["tenant"] == s.tenant} != signals["idle_rep"]


def test_thresholds_come_from_the_plan(scenario, now):
    """A plan that allows 10 idle days and 30 inactive days silences both rules."""
    s = scenario
    s.load_plan(edits={"idle_rep_after: 3d": "idle_rep_after: 10d",
                       "deal_inactive_after: 14d": "deal_inactive_after: 30d"})
    s.rep("idle-1", "sdr")
    s.account("acc-ent", "B", "enterprise", owner="ae-1")
    s.opportunity("opp-quiet", "acc-ent", "ae-1", "discovery", now - 20 * D)
    s.insert_activities([s.activity("call", now - 9.5 * D, "idle-1", account_id="acc-ent")])
    found = evaluate(s.sink, now, [s.tenant])
    assert [x for x in found if x.kind in ("idle_rep", "deal_inactive")] == []
    later = evaluate(s.sink, now + 21 * D, [s.tenant])  # 30.5 days after the last call
    assert {x.kind for x in later if x.kind in ("idle_rep", "deal_inactive")} == {"idle_rep",
                                                                                "deal_inactive"}


def test_a_cadence_ends_on_reply_meeting_bounce_and_unsubscribe(scenario, now):
    s = scenario
    s.load_plan()
    start = now - 8 * D - 2 * H  # steps 1-4 due; only step 1 done: two steps behind
    rows = []
    exits = {"p-reply": ("email", {"email_action": "replied"}),
             "p-meeting": ("meeting", {"meeting_status": "scheduled"}),
             "p-bounce": ("email", {"email_action": "bounced"}),
             "p-unsub": ("email", {"email_action": "unsubscribed"}),
             "p-open": None}
    for p, exit_event in exits.items():
        rows.append(s.activity("email", start, "sdr-1", prospect_id=p, cadence_id="outbound-8",
                               cadence_step=1))
        rows.append(s.activity("call", start + D, "sdr-1", prospect_id=p,
                               cadence_id="outbound-8", cadence_step=2))
        if exit_event:
            kind, fields = exit_event
            rows.append(s.activity(kind, start + 2 * D, "sdr-1", prospect_id=p, **fields))
    s.insert_activities(rows)
    got = {r["prospect_id"]: r for r in rules.rows(s.sink, "cadence_progress", s.tenant, now,
                                                   rep="")}
    assert {p: got[p]["exit_reason"] for p in exits} == {
        "p-reply": "replied", "p-meeting": "meeting", "p-bounce": "bounced",
        "p-unsub": "unsubscribed", "p-open": ""}
    assert got["p-reply"]["exit_step"] == 2  # credited to the step before the reply
    assert [p for p in exits if got[p]["active"]] == ["p-open"]
    # four of the five left the cadence: one prospect behind is not enough for a signal
    assert [x for x in evaluate(s.sink, now, [s.tenant]) if x.kind == "cadence_behind"] == []


def _firing_by_entity(sink, tenant, now):
    """Alert uid -> entity -> the firing instance, for every coaching rule, evaluated at now."""
    out: dict[str, dict[tuple[str, ...], chk.Firing]] = {}
    for group in rules_file()["groups"]:
        for rule in group["rules"]:
            if rule["uid"] not in ALERT_ENTITIES:
                continue
            _, names = ALERT_ENTITIES[rule["uid"]]
            result = chk.evaluate(sink, rule, group["name"], now)
            assert not result.error, (rule["uid"], result.error)
            out[rule["uid"]] = {tuple(f.labels[x] for x in names): f for f in result.firing
                                if f.labels["tenant"] == tenant}
    return out


def test_an_alert_keeps_its_labels_while_its_condition_holds(scenario, now):
    """Labels are an alert instance's identity in Grafana: a figure that moves while the
    condition holds is the value, never a label, or each move resolves one alert and fires
    another (and restarts the pending period)."""
    s = scenario
    _every_rule_fires(s, now)
    before = _firing_by_entity(s.sink, s.tenant, now)
    # three hours on, every condition still holds: the deal is a little longer in its stage,
    # the lead has waited longer, a fifth prospect joined sdr-1's cadence (on its first step),
    # sdr-2 dialled 30 more calls (still far below the planned share of calls)
    rows = [s.activity("email", now + H, "sdr-1", prospect_id="p1-new", account_id="acc-new",
                       cadence_id="outbound-8", cadence_step=1)]
    rows += [s.activity("call", now + H + i * dt.timedelta(minutes=2), "sdr-2")
             for i in range(30)]
    s.insert_activities(rows)
    later = _firing_by_entity(s.sink, s.tenant, now + 3 * H)
    for uid, subjects in before.items():
        assert subjects, f"{uid}: the scenario must make the rule fire"
        assert set(later[uid]) == set(subjects), uid
        for entity, first in subjects.items():
            assert later[uid][entity].labels == first.labels, (uid, entity)
    t = s.tenant
    stuck = (before["touchline-stuck-deal"][("opp-stuck",)],
             later["touchline-stuck-deal"][("opp-stuck",)])
    assert [f.value for f in stuck] == pytest.approx([10.0, 10.125])
    assert "for 10.0 d" in stuck[0].summary and "for 10.1 d" in stuck[1].summary
    lead = (before["touchline-speed-to-lead"][("lead-late",)],
            later["touchline-speed-to-lead"][("lead-late",)])
    assert [f.value for f in lead] == pytest.approx([3.0, 6.0])
    assert "waited 3.0 h" in lead[0].summary and "waited 6.0 h" in lead[1].summary
    assert "call lead-late now" in lead[1].action
    mix = (before["touchline-activity-mix"][("sdr-2", "call_attempts")],
           later["touchline-activity-mix"][("sdr-2", "call_attempts")])
    assert mix[0].labels["basis"] == "share" and mix[1].value < mix[0].value
    assert f"{mix[1].value:.0f} points" in mix[1].summary
    assert "call_attempts" in mix[1].action
    cadence = later["touchline-cadence-behind"][("sdr-1", "outbound-8")]
    assert cadence.value == 4 and "4 prospects" in cadence.summary
    assert t == cadence.labels["tenant"]


def test_cadence_behind_names_one_team_and_one_next_channel_however_often_it_is_read(
        scenario, now):
    # a rep who moved teams: two prospects started in the old team, two (later) in the new; two
    # of the four are next due a call and two an email. The alert's team label and the coaching
    # message's channel must not change from one evaluation to the next.
    s = scenario
    s.load_plan()
    offsets = [0, 1, 3, 5, 8, 11, 15, 20]  # days, outbound-8's waits summed
    rows = []
    for p, team, days_ago, done in (("p-1", "team-old", 16.8, 1), ("p-2", "team-old", 16.7, 2),
                                    ("p-3", "team-new", 16.6, 4), ("p-4", "team-new", 16.5, 5)):
        start = now - days_ago * D
        rows += [s.activity(OUTBOUND_8[step - 1], start + offsets[step - 1] * D, "sdr-9",
                            team_id=team, prospect_id=p, cadence_id="outbound-8",
                            cadence_step=step)
                 for step in range(1, done + 1)]
    s.insert_activities(rows)
    progress = {r["prospect_id"]: r for r in rules.rows(s.sink, "cadence_progress", s.tenant,
                                                        now, rep="sdr-9")}
    assert {p: (r["steps_behind"], r["next_channel"]) for p, r in progress.items()} == {
        "p-1": (6, "call"), "p-2": (5, "email"), "p-3": (3, "call"), "p-4": (2, "email")}
    seen = {tuple((r["team_id"], r["next_channel"], r["behind"])
                  for r in rules.rows(s.sink, "rule_cadences_behind", s.tenant, now))
            for _ in range(8)}
    # the newest prospect's team; a tie between channels goes to the first by name
    assert seen == {(("team-new", "call", 4),)}


def test_activity_vs_plan_names_the_latest_team_of_a_rep_outside_the_org(scenario, now):
    # a rep with no org row whose events name two teams within the 7 days: the old team's
    # calls were written first, the new team's last. The alert's team label and the signal's
    # team must be the new one on every evaluation.
    s = scenario
    s.load_plan()
    s.insert_activities([s.activity("call", now - (5 - i / 10) * D, "mover", team_id="team-old")
                         for i in range(3)])
    s.insert_activities([s.activity("call", now - 1 * D, "mover", team_id="team-new")])
    seen = {tuple(sorted({(r["team_id"], r["actual"]) for r in rules.rows(
                s.sink, "rep_activity_vs_plan", s.tenant, now) if r["activity"] ==
                "call_attempts"})) for _ in range(8)}
    assert seen == {(("team-new", 4.0),)}
    mix = [x for x in evaluate(s.sink, now, [s.tenant]) if x.rep_id == "mover"]
    assert mix and {x.team_id for x in mix} == {"team-new"}


def test_a_week_of_a_rep_outside_the_org_has_the_team_of_its_latest_event(scenario, now):
    # the same move seen by the weekly views (digests, the variation report): one row for the
    # week, with the new team, on every read
    s = scenario
    monday = (now - dt.timedelta(days=now.weekday())).replace(hour=9)
    s.insert_activities([s.activity("call", monday + i * H, "mover", team_id="team-old")
                         for i in range(3)])
    s.insert_activities([s.activity("call", monday + 5 * H, "mover", team_id="team-new")])
    seen = {tuple(s.sink.query(
        "SELECT team_id, call_attempts FROM touchline.rep_week_activity "
        "WHERE tenant = {t:String} AND rep_id = 'mover'", {"t": s.tenant}).rows)
        for _ in range(8)}
    assert seen == {(("team-new", 4),)}
