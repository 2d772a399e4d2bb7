"""Inspect views of sinks/ddl/0009: variation by motion, product line, rep, team and segment."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.plan.variation_seed import seed_variation
from touchline.sinks.migrations import migration_files, statements

pytestmark = pytest.mark.integration


def _rows(s, view: str) -> list[dict]:
    return s.sink.query(f"SELECT * FROM touchline.{view} WHERE tenant = {{t:String}}",
                        {"t": s.tenant}).dicts()


def test_motion_week_variation_counts_by_motion_product_line_rep_and_segment(scenario, now):
    s = scenario
    monday = seed_variation(s, now)
    got = {(r["motion"], r["product_line"], r["rep_id"], r["segment"]): r
           for r in _rows(s, "motion_week_variation")}
    assert set(got) == {
        *(("acquisition", "platform", rep, "smb") for rep in ("rep-a", "rep-b", "rep-c")),
        *(("upsell", "analytics", rep, "mid_market") for rep in ("rep-a", "rep-b", "rep-c")),
        ("unspecified", "unspecified", "rep-a", "unknown"),
    }
    assert {r["week_start"].date() for r in got.values()} == {monday.date()}
    assert {r["team_id"] for r in got.values()} == {"team-1"}

    a_acq = got[("acquisition", "platform", "rep-a", "smb")]
    assert (a_acq["touches"], a_acq["call_attempts"], a_acq["connected_calls"],
            a_acq["meetings_held"], a_acq["emails_sent"]) == (100, 98, 10, 2, 0)
    assert a_acq["meetings_per_100_touches"] == 2.0
    assert a_acq["opportunities_opened"] == 0 and a_acq["win_rate"] is None
    b_acq = got[("acquisition", "platform", "rep-b", "smb")]
    assert (b_acq["meetings_held"], b_acq["meetings_per_100_touches"]) == (20, 20.0)
    assert (b_acq["opportunities_opened"], b_acq["opportunities_won"],
            b_acq["opportunities_lost"]) == (1, 0, 0)

    a_up = got[("upsell", "analytics", "rep-a", "mid_market")]
    assert (a_up["touches"], a_up["meetings_held"], a_up["meetings_per_100_touches"]) == (
        40, 8, 20.0)
    # the won event names no motion: it counts under the deal's (upsell)
    assert (a_up["opportunities_opened"], a_up["opportunities_won"],
            a_up["opportunities_lost"], a_up["win_rate"]) == (2, 1, 1, 0.5)

    untagged = got[("unspecified", "unspecified", "rep-a", "unknown")]
    assert (untagged["touches"], untagged["emails_sent"], untagged["email_replies"],
            untagged["replies"], untagged["meetings_per_100_touches"]) == (5, 5, 1, 1, 0.0)


def test_motion_stage_dwell_and_opportunity_motion(scenario, now):
    s = scenario
    seed_variation(s, now)
    opps = {r["opportunity_id"]: r for r in _rows(s, "opportunity_motion")}
    assert {o: (r["motion"], r["product_line"], r["is_won"], r["is_lost"])
            for o, r in opps.items()} == {
        "opp-up-1": ("upsell", "analytics", 1, 0),
        "opp-up-2": ("upsell", "analytics", 0, 1),
        "opp-acq-1": ("acquisition", "platform", 0, 0),
    }
    (dwell,) = _rows(s, "motion_stage_dwell")
    assert (dwell["motion"], dwell["product_line"], dwell["rep_id"], dwell["segment"],
            dwell["stage"], dwell["visits"]) == ("upsell", "analytics", "rep-a", "mid_market",
                                                 "discovery", 2)
    assert (dwell["avg_dwell_days"], dwell["max_dwell_days"]) == (1.5, 2.0)


def test_crm_stages_mapped_to_one_plan_stage_are_one_stay(scenario, now):
    """Salesforce's Prospecting -> Qualification -> Needs Analysis are one `discovery` stay."""
    s = scenario
    s.account("acc-sf", "B", "smb")
    h = dt.timedelta(hours=1)
    start = (now - dt.timedelta(days=20)).replace(microsecond=0)
    path = [("discovery", "Prospecting", 0, 24), ("discovery", "Qualification", 24, 72),
            ("discovery", "Needs Analysis", 72, 120), ("demo", "Id. Decision Makers", 120, 168),
            ("discovery", "Needs Analysis", 168, 192),
            ("proposal", "Proposal/Price Quote", 192, 216), ("proposal", "Negotiation", 216, None)]
    for i, (stage, vendor, entered, exited) in enumerate(path):
        nxt = path[i + 1][0] if i + 1 < len(path) else ""
        s.stage_visit("opp-sf", "acc-sf", "rep-a" if i == 0 else "rep-b", stage,
                      start + entered * h, start + exited * h if exited else None, nxt,
                      vendor_stage=vendor)
    stays = s.sink.query(
        "SELECT stage, rep_id, entered_at, exited_at, next_stage, dwell_s, visits, vendor_stages "
        "FROM touchline.stage_stays WHERE tenant = {t:String} ORDER BY entered_at",
        {"t": s.tenant}).rows
    as_hours = [(st, rep, (e.replace(tzinfo=None) - start.replace(tzinfo=None)) / h,
                 None if dwell is None else dwell / 3600, visits, list(vs), nxt)
                for st, rep, e, _x, nxt, dwell, visits, vs in stays]
    assert as_hours == [
        ("discovery", "rep-a", 0, 120, 3, ["Prospecting", "Qualification", "Needs Analysis"],
         "demo"),
        ("demo", "rep-b", 120, 48, 1, ["Id. Decision Makers"], "discovery"),
        ("discovery", "rep-b", 168, 24, 1, ["Needs Analysis"], "proposal"),
        ("proposal", "rep-b", 192, None, 2, ["Proposal/Price Quote", "Negotiation"], ""),
    ]
    dwell = {(r["rep_id"], r["stage"]): (r["visits"], r["avg_dwell_days"], r["max_dwell_days"])
             for r in _rows(s, "motion_stage_dwell")}
    # the first discovery stay is one visit of 5 days (three CRM stages), not three
    assert dwell == {("rep-a", "discovery"): (1, 5.0, 5.0), ("rep-b", "demo"): (1, 2.0, 2.0),
                     ("rep-b", "discovery"): (1, 1.0, 1.0)}


def test_migration_0009_is_idempotent(scenario, now):
    s = scenario
    seed_variation(s, now)
    before = _rows(s, "motion_week_variation")
    (sql,) = [text for version, text in migration_files() if version == "0009_motion_variation"]
    for statement in statements(sql, "touchline"):
        s.sink.command(statement)
    assert s.sink.ensure_schema() == []  # recorded as applied: nothing pending
    applied = s.sink.query("SELECT count() FROM touchline.schema_migrations FINAL "
                           "WHERE version = '0009_motion_variation'").scalar()
    assert applied == 1
    after = _rows(s, "motion_week_variation")
    key = sorted(before, key=lambda r: (r["motion"], r["rep_id"]))
    assert key == sorted(after, key=lambda r: (r["motion"], r["rep_id"]))
