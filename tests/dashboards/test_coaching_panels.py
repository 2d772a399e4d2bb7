"""Coaching panels show the right rows on the seeded data, not only the right columns."""

from __future__ import annotations

import pytest

from tests.dashboards.conftest import DAY, HOUR, _activity, _table
from touchline.dashboards import coaching, rep_view
from touchline.dashboards import queries as q
from touchline.dashboards.local.macros import ALL, QueryContext, expand

pytestmark = pytest.mark.integration


def _panel(title: str) -> str:
    return next(p.sql for p in coaching.PANELS if p.title == title)


def _rows(seeded, title: str, team: str, rep: object = ALL) -> list[dict]:
    ctx = QueryContext.last(7 * 86400, 60, {"tenant": "acme", "team": team, "rep": rep},
                            now=seeded.now)
    return seeded.sink.query(expand(_panel(title), ctx)).dicts()


def test_open_signals_panel_lists_the_firing_signal_and_not_the_resolved_one(seeded) -> None:
    rows = _rows(seeded, "Open coaching signals", "team-east")
    assert [(r["kind"], r["rep"], r["subject_id"]) for r in rows] == [
        ("stuck_deal", "r-east-2", "opp-stuck")]
    assert rows[0]["message"] == "opp-stuck past SLA"
    assert _rows(seeded, "Open coaching signals", "team-west") == []
    assert _rows(seeded, "Open coaching signals", "team-east", ["r-east-1"]) == []


def _rep_rows(seeded, title: str, rep: str) -> list[dict]:
    sql = next(p.sql for p in rep_view.PANELS if p.title == title)
    ctx = QueryContext.last(7 * 86400, 60, {"tenant": "acme", "rep": rep}, now=seeded.now)
    return seeded.sink.query(expand(sql, ctx)).dicts()


def test_the_one_on_one_view_opens_on_the_rep_with_cadence_work(seeded) -> None:
    ctx = QueryContext.last(3600, 60, {"tenant": "acme"}, now=seeded.now)
    options = [r[0] for r in seeded.sink.query(expand(q.VAR_REPS_BY_CADENCE_WORK, ctx)).rows]
    # r-west-1 has three prospects behind on outbound-8; r-east-1 (first alphabetically) none
    assert options == ["r-west-1", "r-east-1", "r-east-2"]
    assert next(v for v in rep_view.VARIABLES if v.name == "rep").sort is False


def test_the_one_on_one_view_shows_one_reps_week(seeded) -> None:
    period = {r["activity"]: r for r in _rep_rows(seeded, "This period vs the one before, "
                                                           "vs plan", "r-east-1")}
    # 40 steady calls, one per cadence prospect (3) and the call on the lead
    assert period["call_attempts"]["this_period"] == 44
    assert period["call_attempts"]["planned"] == 200.0  # sdr: 200 a week, a 7-day range
    days = _rep_rows(seeded, "Day by day vs plan", "r-east-1")
    assert sum(r["done"] for r in days if r["activity"] == "call_attempts") == 44
    assert {r["planned_per_day"] for r in days if r["activity"] == "call_attempts"} == {40.0}
    assert [r["subject_id"] for r in _rep_rows(seeded, "Open coaching signals", "r-east-2")] \
        == ["opp-stuck"]
    assert [r["opportunity"] for r in _rep_rows(seeded, "Deal moves", "r-east-1")] == [
        "opp-fresh"]
    assert [r["opportunity"] for r in _rep_rows(seeded, "Stuck deals", "r-east-2")] == [
        "opp-stuck"]
    assert _rep_rows(seeded, "Stuck deals", "r-east-1") == []


async def test_the_local_panel_opens_the_one_on_one_view(seeded) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from touchline.dashboards.local.view import make_app

    async with TestClient(TestServer(make_app(seeded.sink))) as client:
        resp = await client.get("/one-on-one", allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/?d=touchline-rep"
        chosen = await client.get("/one-on-one?rep=r-east-2", allow_redirects=False)
        assert chosen.headers["Location"] == "/?d=touchline-rep&rep=r-east-2"
        values = await (await client.get("/api/variables/touchline-rep")).json()
        assert values["values"]["rep"] == "r-west-1"  # cadence work, not alphabetical


def test_team_panels_show_their_teams_accounts_and_deals_only(seeded) -> None:
    # the panels read the rule views scoped to the team (sinks/ddl/0043)
    west = [r["account"] for r in _rows(seeded, "Accounts going quiet", "team-west")]
    assert "acc-quiet" in west and not {"acc-busy", "acc-stuck", "acc-ent"} & set(west)
    east = [r["account"] for r in _rows(seeded, "Accounts going quiet", "team-east")]
    assert "acc-quiet" not in east and "acc-west" not in east
    stages = _rows(seeded, "Open deals by stage vs stage SLA", "team-east")
    proposal = next(r for r in stages if (r["segment"], r["stage"]) == ("smb", "proposal"))
    assert (proposal["open_deals"], proposal["past_stage_sla"]) == (1, 1)  # opp-stuck
    assert sum(r["open_deals"] for r in stages) == 3
    assert _rows(seeded, "Open deals by stage vs stage SLA", "team-west") == []
    assert [r["opportunity"] for r in _rep_rows(seeded, "My deals sitting longest", "r-east-2")
            ] == ["opp-stuck", "opp-ent"]
    assert [r["opportunity"] for r in _rep_rows(seeded, "My deals sitting longest", "r-east-1")
            ] == ["opp-fresh"]


def test_the_rep_view_counts_a_rep_who_changed_teams_within_the_range(seeded) -> None:
    # r-moved worked in team-a until 6 days ago and in team-b since; the rep panels read the
    # teams the rep's activities name in the range (queries.rep_teams), both of them
    now, tenant = seeded.now, "acme-moved"
    seeded.sink.insert("activities", _table([
        *(_activity(now, ago, "call", "r-moved", "team-a", "acc-m", tenant=tenant)
          for ago in (6.9 * DAY, 6.5 * DAY)),
        *(_activity(now, ago, "call", "r-moved", "team-b", "acc-m", tenant=tenant)
          for ago in (2 * DAY, HOUR)),
        _activity(now, 6.8 * DAY, "stage_change", "r-moved", "team-a", "acc-m", tenant=tenant,
                  opportunity_id="opp-a", from_stage="discovery", to_stage="proposal"),
        _activity(now, DAY, "stage_change", "r-moved", "team-b", "acc-m", tenant=tenant,
                  opportunity_id="opp-b", from_stage="discovery", to_stage="proposal")]))

    def rows(title: str) -> list[dict]:
        sql = next(p.sql for p in rep_view.PANELS if p.title == title)
        ctx = QueryContext.last(7 * 86400, 60, {"tenant": tenant, "rep": "r-moved"}, now=now)
        return seeded.sink.query(expand(sql, ctx)).dicts()

    days = rows("Day by day vs plan")
    assert sum(r["done"] for r in days if r["activity"] == "call_attempts") == 4
    assert [r["opportunity"] for r in rows("Deal moves")] == ["opp-b", "opp-a"]
