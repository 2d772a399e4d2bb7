"""History judged by the org in force at the time: team moves, role targets, untouched book.

Expectations are computed by hand from the rows inserted (the example plan: sdr 200 call
attempts a week, ae 15 meetings held; tier A untouched after 7 days, C after 30).
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.org.conftest import run_org, write_org
from touchline.plan.signals import evaluate

pytestmark = pytest.mark.integration

D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def week_rows(s, view, activity):
    return s.sink.query(
        f"SELECT * FROM touchline.{view} WHERE tenant = {{t:String}} AND activity = {{a:String}} "
        "ORDER BY week_start, team_id", {"t": s.tenant, "a": activity}).dicts()


def test_team_change_counts_for_the_team_then_in_force(scenario, tmp_path):
    s = scenario
    monday = (s.now - s.now.weekday() * D).replace(hour=0, minute=0, second=0)
    last_monday = monday - 7 * D
    move = last_monday + 2 * D  # Wednesday of last week
    s.load_plan(s.now - 60 * D)
    org = {"tenant": s.tenant,
           "teams": [{"team_id": "team-a"}, {"team_id": "team-b"}],
           "reps": [{"rep_id": "r1", "role": "sdr", "team_id": "team-a", "active_to": move},
                    {"rep_id": "r1", "role": "sdr", "team_id": "team-b", "active_from": move},
                    {"rep_id": "r2", "role": "sdr", "team_id": "team-a"}]}
    assert run_org(s.sink, "load", str(write_org(tmp_path / "org.yaml", org))).exit_code == 0
    # events carry whatever team the source stamped on them (here: the team they have now)
    rows = [s.activity("call", last_monday + 9 * H + i * H / 20, "r1", team_id="team-b")
            for i in range(10)]                                              # Mon: 10, team-a
    rows += [s.activity("call", last_monday + 3 * D + 9 * H + i * H / 20, "r1",
                        team_id="team-b") for i in range(20)]               # Thu: 20, team-b
    rows += [s.activity("call", monday + 9 * H + i * H / 20, "r1", team_id="team-b")
             for i in range(30)]                                             # this week: 30
    rows += [s.activity("call", last_monday + 9 * H + i * H / 20, "r2", team_id="team-a")
             for i in range(40)]
    s.insert_activities(rows)

    got = [(r["week_start"].date(), r["rep_id"], r["team_id"], r["actual"], r["target"])
           for r in week_rows(s, "rep_week_vs_target", "call_attempts")]
    # a week is 200 calls; r1 was in team-a Mon-Tue (2/7) and in team-b from Wednesday (5/7)
    assert sorted(got) == sorted([
        (last_monday.date(), "r1", "team-a", 10.0, round(200 * 2 / 7, 1)),
        (last_monday.date(), "r1", "team-b", 20.0, round(200 * 5 / 7, 1)),
        (last_monday.date(), "r2", "team-a", 40.0, 200.0),
        (monday.date(), "r1", "team-b", 30.0, 200.0),
    ])
    teams = [(r["week_start"].date(), r["team_id"], r["reps"], r["actual"], r["target"])
             for r in week_rows(s, "team_week_variation", "call_attempts")]
    assert teams == [
        (last_monday.date(), "team-a", 2, 50.0, round(200 * 2 / 7 + 200, 1)),
        (last_monday.date(), "team-b", 1, 20.0, round(200 * 5 / 7, 1)),
        (monday.date(), "team-b", 1, 30.0, 200.0),
    ]
    # the helper view: the team and role in force at each event
    placed = s.sink.query(
        "SELECT org_team_id, count() FROM touchline.activities_in_org "
        "WHERE tenant = {t:String} AND rep_id = 'r1' GROUP BY org_team_id ORDER BY 1",
        {"t": s.tenant}).rows
    assert placed == [("team-a", 10), ("team-b", 50)]


def test_an_ae_is_judged_by_ae_targets(scenario, tmp_path):
    s = scenario
    s.load_plan(s.now - 60 * D)
    org = {"tenant": s.tenant, "teams": [{"team_id": "closers"}],
           "reps": [{"rep_id": "ae1", "role": "ae", "team_id": "closers"},
                    {"rep_id": "boss", "role": "manager", "team_id": "closers"}]}
    assert run_org(s.sink, "load", str(write_org(tmp_path / "org.yaml", org))).exit_code == 0
    rows = []
    for rep in ("ae1", "boss", "stranger"):  # stranger: not in the org
        rows += [s.activity("meeting", s.now - (i + 1) * D, rep) for i in range(3)]
        rows.append(s.activity("email", s.now - 2 * H, rep))
    s.insert_activities(rows)

    mix = sorted((x.rep_id, x.activity, x.team_id) for x in evaluate(s.sink, s.now, [s.tenant])
                 if x.kind == "activity_mix")
    # ae1 by the ae targets (15 meetings), boss has no targets, stranger by the default (sdr)
    assert mix == [("ae1", "meetings_held", "closers"),
                   ("stranger", "call_attempts", "team-1"),
                   ("stranger", "connected_calls", "team-1"),
                   ("stranger", "emails_sent", "team-1"),
                   ("stranger", "meetings_held", "team-1")]
    ae = next(x for x in evaluate(s.sink, s.now, [s.tenant])
              if x.rep_id == "ae1" and x.kind == "activity_mix")
    assert ae.message == ("Rep ae1: 3 meetings held in the last 7 days vs 15 planned "
                          "(15/week, ae); move time to meetings held.")
    assert ae.evidence["role"] == "ae" and ae.evidence["planned"] == 15.0

    weekly = {(r["rep_id"], r["activity"], r["role"]) for r in s.sink.query(
        "SELECT rep_id, activity, role FROM touchline.rep_week_vs_target "
        "WHERE tenant = {t:String}", {"t": s.tenant}).dicts()}
    assert {(rep, role) for rep, _, role in weekly} == {("ae1", "ae"), ("stranger", "sdr")}
    assert {act for rep, act, _ in weekly if rep == "ae1"} == {"meetings_held"}


def test_an_account_with_no_events_is_untouched(scenario, tmp_path):
    s = scenario
    s.load_plan(s.now - 60 * D)
    org = {"tenant": s.tenant, "teams": [{"team_id": "west"}],
           "reps": [{"rep_id": "ana", "role": "ae", "team_id": "west"}],
           "accounts": [
               {"account_id": "acc-quiet", "owner_rep_id": "ana", "tier": "A"},
               {"account_id": "acc-busy", "owner_rep_id": "ana", "tier": "A"},
               {"account_id": "acc-old", "owner_rep_id": "ana", "tier": "C"}]}
    assert run_org(s.sink, "load", str(write_org(tmp_path / "org.yaml", org))).exit_code == 0
    s.insert_activities([
        s.activity("call", s.now - 1 * D, "ana", account_id="acc-busy"),   # A: 7d limit
        s.activity("call", s.now - 40 * D, "ana", account_id="acc-old"),   # C: 30d limit
    ])

    found = {x.subject_id: x for x in evaluate(s.sink, s.now, [s.tenant])
             if x.kind == "untouched_account"}
    assert sorted(found) == ["acc-old", "acc-quiet"]
    quiet = found["acc-quiet"]
    assert (quiet.rep_id, quiet.team_id, quiet.signal_id) == (
        "ana", "west", "untouched_account:acc-quiet:never")
    assert quiet.message == ("Rep ana: tier A account acc-quiet has no activity on record "
                             "(tier A limit 7d; never touched); call or email a contact there.")
    assert found["acc-old"].evidence["untouched_s"] == 40 * 86_400

    view = {r["account_id"]: r for r in s.sink.query(
        "SELECT * FROM touchline.account_touch_status WHERE tenant = {t:String}",
        {"t": s.tenant}).dicts()}
    assert sorted(view) == ["acc-busy", "acc-old", "acc-quiet"]
    assert (view["acc-quiet"]["is_untouched"], view["acc-quiet"]["untouched_s"],
            view["acc-quiet"]["team_id"], view["acc-quiet"]["rep_id"]) == (1, None, "west", "ana")
    assert view["acc-busy"]["is_untouched"] == 0 and view["acc-old"]["is_untouched"] == 1


def test_a_week_without_new_leads_has_nothing_to_judge_on_speed_to_lead(scenario):
    """No lead arrived: the speed-to-lead actual and attainment are NULL, not 0 % or 100 %.

    Both weeks have ended, so every lead is past its SLA whatever day and hour the test runs.
    """
    s = scenario
    monday = (s.now - s.now.weekday() * D).replace(hour=0, minute=0, second=0)
    last_monday = monday - 7 * D
    quiet_monday = last_monday - 7 * D
    s.load_plan(s.now - 60 * D)
    rows = [s.activity("call", quiet_monday + 9 * H + i * H / 20, "r1") for i in range(5)]
    # last week r1 got two leads: one touched within the SLA, one never touched
    rows += [s.activity("lead", last_monday + 9 * H, "r1", prospect_id="p-fast"),
             s.activity("call", last_monday + 9 * H + 60 * dt.timedelta(seconds=1), "r1",
                        prospect_id="p-fast"),
             s.activity("lead", last_monday + 10 * H, "r1", prospect_id="p-slow")]
    s.insert_activities(rows)

    got = {r["week_start"].date(): (r["actual"], r["attainment"])
           for r in week_rows(s, "rep_week_vs_target", "leads_touched_within_sla")}
    assert got[quiet_monday.date()] == (None, None)
    actual, attainment = got[last_monday.date()]
    assert actual == 50.0 and attainment is not None
    teams = {r["week_start"].date() for r in week_rows(s, "team_week_variation",
                                                         "leads_touched_within_sla")}
    assert teams == {last_monday.date()}
