"""Views rewritten for speed (0020 open_deal_dwell, 0021 account_activity, 0033 prospect_exits,
0034 stage_names, 0035, 0036, 0040, 0046 and 0049 rep_activity_vs_plan, 0042, 0043 and 0047
cadence_progress, 0044 open_deals_vs_sla, 0045 rule_leads_over_sla, 0048 rule_idle_reps)
answer exactly as the views they replaced did; so does 0037's rule_cadences_behind wherever the
0013 text had no ties to settle. The views scoped to a team or a rep (0043) answer exactly the
rows of that team or rep of the view they scope.

The earlier text of each view (0013, 0012, 0038) is created beside the new one under an `old_`
name, in a database of its own (`tl_rule_views`, on the package's engine), over generated rows:
two tenants, a plan in force with stage SLAs, tiers and cadences, accounts with and without a
tier or segment, open and closed deals, touches on their accounts, events naming them (deals
on an account nobody touches too, some named ahead of `now`), prospects in cadences (some more
than 90 days old) with replies, meetings, bounces, unsubscribes and closing dispositions,
leads touched before and after they came in (and never), weekly activity targets, stage names
the plan does not know from two sources, rows more than 30 days old and rows in the future (so
the raw branches of accounts_vs_touch_limit and open_deals_vs_sla run), and a block retried
with the same deduplication token. Every view is compared for every tenant and '' (all), for a
rep and for all reps where it takes one, at now, at a past `now` and before most of the rows.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.migrations import earlier_view, migrate
from touchline.sinks.rows import activities_table

pytestmark = pytest.mark.integration

DB = "tl_rule_views"
TENANTS = ("acme", "globex")
STAGES = ("discovery", "proposal", "negotiation", "won", "lost")
#: view -> (the migration its old text is in, the views it reads that are rewritten too: their
#: old text is read instead)
VIEWS = {
    "open_deal_dwell": ("0020_open_deal_dwell", ()),
    "open_deals_vs_sla": ("0013_rules", ()),
    "rule_stuck_deals": ("0013_rules", ("open_deals_vs_sla",)),
    "rule_inactive_deals": ("0013_rules", ("open_deals_vs_sla",)),
    "accounts_vs_touch_limit": ("0013_rules", ()),
    "rule_untouched_accounts": ("0013_rules", ("accounts_vs_touch_limit",)),
    "cadence_progress": ("0013_rules", ()),
    "rule_cadences_behind": ("0013_rules", ("cadence_progress",)),
    "unmapped_stages": ("0012_stage_outcome", ()),
    "rep_activity_vs_plan": ("0038_activity_plan_team", ()),
    "rule_activity_mix": ("0013_rules", ("rep_activity_vs_plan",)),
    "rule_leads_over_sla": ("0013_rules", ()),
    "rule_idle_reps": ("0013_rules", ()),
}
#: a view scoped to a team or a rep (0043) -> the view it scopes, and the scopes it takes
SCOPED = {
    "accounts_vs_touch_limit_in_scope": ("accounts_vs_touch_limit", ("team",)),
    "open_deal_dwell_in_scope": ("open_deal_dwell", ("team", "rep")),
    "rule_stuck_deals_in_scope": ("rule_stuck_deals", ("team", "rep")),
}
#: the scopes compared: all, teams of the activities, a team only the book names, an unknown
#: team; reps with deals, a rep only the book names
SCOPES = {"team": ("", "team-0", "team-2", "t-x", "team-9"), "rep": ("", "r-1", "r-3", "r-9")}
#: the views that take a rep ('' for all)
WITH_REP = ("cadence_progress",)
#: the views that take no parameters
UNPARAMETERIZED = ("unmapped_stages",)
#: view -> an array column whose order the engine does not set (a window's groupArray; its
#: reader sorts it: touchline/plan/signals.py): compared sorted
UNORDERED = {"rule_activity_mix": "rep_ratios"}
#: what ends a prospect's cadence (0013 cadence_progress `exits`), as activity fields
EXITS = ({"type": "email", "channel": "email", "email_action": "replied"},
         {"type": "email", "channel": "email", "email_action": "bounced"},
         {"type": "email", "channel": "email", "email_action": "unsubscribed"},
         {"type": "call", "channel": "call", "direction": "inbound"},
         {"type": "meeting", "channel": "meeting", "meeting_status": "scheduled"},
         {"type": "meeting", "channel": "meeting", "meeting_status": "held"},
         {"type": "disposition", "disposition": "qualify"},
         {"type": "disposition", "disposition": "archive"},
         {"type": "disposition", "disposition": "revisit"})  # not an exit


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _activity(rnd: random.Random, n: int, tenant: str, at: dt.datetime) -> dict[str, Any]:
    kind = rnd.choices(["call", "email", "stage_change", "note", "cadence", "exit", "lead"],
                       [30, 30, 12, 8, 14, 6, 4])[0]
    account = rnd.randrange(30)
    opp = f"opp-{account}-{rnd.randrange(2)}"
    row: dict[str, Any] = {
        "event_id": f"e-{n}", "tenant": tenant, "type": kind, "occurred_at": _ms(at),
        "source": "crm", "rep_id": f"r-{rnd.randrange(5)}", "team_id": f"team-{account % 3}",
        "account_id": "" if rnd.random() < 0.03 else f"acct-{account}",
        "prospect_id": f"p-{rnd.randrange(60)}", "opportunity_id": "", "cadence_id": "",
        "cadence_step": 0, "channel": "", "is_touch": 0, "direction": "", "outcome": "",
        "duration_s": 0, "email_action": "", "meeting_status": "", "from_stage": "",
        "to_stage": "", "disposition": "", "lead_status": "", "schema_version": 1,
        "ingested_at": _ms(at), "kafka_partition": n % 4, "kafka_offset": n, "motion": "",
        "product_line": ""}
    if kind == "call":
        row.update(channel="call", direction="outbound", outcome="connected",
                   is_touch=int(rnd.random() < 0.8))
    elif kind == "email":
        row.update(channel="email", email_action="sent", is_touch=int(rnd.random() < 0.8))
    elif kind == "stage_change":
        # a name the plan does not know, now and then (unmapped_stages), from either source
        row.update(opportunity_id=opp, from_stage="discovery",
                   to_stage=rnd.choice((*STAGES, "Needs Analysis", "Closed Won")),
                   source=rnd.choice(("salesforce", "hubspot")),
                   is_closed=int(rnd.random() < 0.2))
    elif kind == "cadence":
        channel = rnd.choice(("call", "email"))
        # a rep's cadence touches are in the rep's team: the 0013 rule_cadences_behind picks
        # the team with any(), which only agrees with 0037 when there is one
        row.update(type=channel, channel=channel, is_touch=1, cadence_id=f"cad-{n % 2}",
                   team_id=f"team-{row['rep_id'][-1]}",
                   cadence_step=rnd.randrange(1, 5), direction="outbound" if channel == "call"
                   else "", email_action="sent" if channel == "email" else "")
    elif kind == "exit":
        row.update(rnd.choice(EXITS))
    elif kind == "lead":  # a prospect touched before, or a new one (and _lead_touches)
        row.update(lead_status="created")
        if n % 3:
            row["prospect_id"] = f"new-{n}"
    elif rnd.random() < 0.5:
        row["opportunity_id"] = opp  # an event naming the deal
    return row


def _lead_touches(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A call 10 minutes after every other lead: within the SLA for a new prospect, and not
    in time for one touched before the lead (its first touch is the earlier one, which may be
    more than the 7 days back); the other leads wait untouched or have only earlier touches."""
    return [dict(r, event_id=f"{r['event_id']}-touch", type="call", channel="call",
                 direction="outbound", outcome="connected", is_touch=1, lead_status="",
                 occurred_at=r["occurred_at"] + 600_000)
            for r in rows if r["type"] == "lead" and int(r["event_id"][2:]) % 2]


#: deals on an account nobody touches: only the events naming them move their last activity
QUIET_DEALS = 4


def _quiet_deal_notes(now: dt.datetime) -> list[dict[str, Any]]:
    """Notes naming each quiet deal, 1-7 days ago, and for every other deal one 2 hours ahead
    (a past `now` and events stamped ahead of the clock read the raw rows)."""
    rows = []
    for t in TENANTS:
        for k in range(QUIET_DEALS):
            for n, ago in enumerate((2 * k + 1, k + 0.5, -1 / 12 if k % 2 else 7)):
                rows.append({**_activity(random.Random(k), 0, t, now - dt.timedelta(days=ago)),
                             "event_id": f"quiet-{t}-{k}-{n}", "type": "note", "channel": "",
                             "is_touch": 0, "account_id": "acct-quiet",
                             "opportunity_id": f"opp-quiet-{k}", "cadence_id": "",
                             "cadence_step": 0, "direction": "", "outcome": "",
                             "email_action": "", "meeting_status": "", "disposition": "",
                             "lead_status": "", "from_stage": "", "to_stage": ""})
    return rows


#: reps who touch someone now and then: (days ago of each touch; negative = ahead of `now`)
IDLE_REPS = ((2, 30), (20 / 1440, 5, -1 / 24), (89.5, 90.5), (-10 / 1440, 3), (1 / 1440, 1.5))


def _idle_rep_touches(now: dt.datetime) -> list[dict[str, Any]]:
    """Calls of reps idle for days, or touched a minute ago, or ahead of `now` within its hour,
    or near the 90 days' edge (rule_idle_reps' last hour and the hour of `now`)."""
    return [{**_activity(random.Random(k), 0, t, now - dt.timedelta(days=ago)),
             "event_id": f"quiet-idle-{t}-{k}-{n}", "type": "call", "channel": "call",
             "is_touch": 1, "direction": "outbound", "outcome": "connected",
             "rep_id": f"r-idle-{k}", "team_id": f"team-{k % 3}", "cadence_id": "",
             "cadence_step": 0, "opportunity_id": "", "email_action": "", "meeting_status": "",
             "disposition": "", "lead_status": "", "from_stage": "", "to_stage": ""}
            for t in TENANTS for k, days in enumerate(IDLE_REPS) for n, ago in enumerate(days)]


def _dimensions(sink: ClickHouseSink, now: dt.datetime, rnd: random.Random) -> None:
    start = now - dt.timedelta(days=90)
    plan = {"plan_version": "v1", "effective_from": start}
    rows: dict[str, list[dict[str, Any]]] = {
        "plan_versions": [{
            **plan, "tenant": t, "loaded_at": start, "stages": list(STAGES),
            "closed_stages": ["won", "lost"], "default_segment": "smb",
            "default_tier": "standard", "default_role": "sdr", "cadence_behind_steps": 2,
            "cadence_behind_min_prospects": 1, "cadence_grace_s": 3600,
            "activity_mix_min_ratio": 0.5, "activity_mix_min_elapsed_s": 3600, "source": "t",
            "idle_rep_after_s": 86400, "deal_inactive_after_s": 3 * 86400} for t in TENANTS],
        "plan_stage_slas": [{**plan, "tenant": t, "segment": seg, "stage": stage,
                             "sla_s": days * 86400}
                            for t in TENANTS for seg in ("smb", "enterprise")
                            for stage, days in (("discovery", 2), ("proposal", 5))],
        "plan_activity_targets": [{**plan, "tenant": t, "role": "sdr", "activity": activity,
                                   "weekly_target": target}
                                  for t in TENANTS for activity, target in (
                                      ("call_attempts", 60), ("connected_calls", 3),
                                      ("emails_sent", 40), ("meetings_held", 2),
                                      ("leads_touched_within_sla", 80))],
        "plan_tiers": [{**plan, "tenant": t, "tier": tier, "untouched_after_s": days * 86400,
                        "speed_to_lead_s": 3600}
                       for t in TENANTS for tier, days in (("standard", 3), ("key", 1))],
        "accounts": [{"tenant": t, "account_id": f"acct-{a}", "name": f"A{a}" if a % 4 else "",
                      "tier": ("key", "", "standard")[a % 3],
                      "segment": ("", "enterprise")[a % 2], "team_id": "" if a % 5 else "t-x",
                      "owner_rep_id": "" if a % 3 else "r-9", "updated_at": start}
                     for t in TENANTS for a in range(0, 40, 2)],  # some only in activities
        # one channel per cadence: no ties between next channels, where 0037 settles what the
        # 0013 text left to chance (tests/plan/test_rules.py has the ties)
        "plan_cadence_steps": [{**plan, "tenant": t, "cadence_id": f"cad-{c}", "step": step,
                                "channel": ("call", "email")[c],
                                "wait_s": (0, 86400, 2 * 86400, 4 * 86400)[step - 1]}
                               for t in TENANTS for c in range(2) for step in range(1, 5)],
        "opportunity_state": [{
            "tenant": t, "opportunity_id": f"opp-{a}-{k}", "account_id": f"acct-{a}",
            "rep_id": f"r-{a % 5}", "team_id": f"team-{a % 3}",
            "current_stage": rnd.choice(STAGES),
            "stage_entered_at": now - dt.timedelta(hours=rnd.uniform(-2, 24 * 12)),
            "first_seen_at": now - dt.timedelta(days=20), "stage_changes": 3,
            "is_closed": int(rnd.random() < 0.1), "version": 1}
            for t in TENANTS for a in range(30) for k in range(2)] + [{
            "tenant": t, "opportunity_id": f"opp-quiet-{k}", "account_id": "acct-quiet",
            "rep_id": "r-2", "team_id": "team-2", "current_stage": "proposal",
            "stage_entered_at": now - dt.timedelta(days=12), "first_seen_at": now - dt.timedelta(
                days=20), "stage_changes": 1, "is_closed": 0, "version": 1}
            for t in TENANTS for k in range(QUIET_DEALS)],
    }
    for table, table_rows in rows.items():
        sink.backend.insert_arrow(f"{DB}.{table}", pa.Table.from_pylist(table_rows))


@pytest.fixture(scope="module")
def sink(seeded) -> Iterator[ClickHouseSink]:
    """`tl_rule_views` with every migration, the 0013 views beside as old_*, and the rows."""
    sink: ClickHouseSink = seeded.sink
    backend = sink.backend
    backend.command(f"DROP DATABASE IF EXISTS {DB}")
    migrate(backend, DB)
    for view, (migration, reads) in VIEWS.items():
        backend.command(earlier_view(migration, view, DB, reads))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rnd = random.Random(5)
    _dimensions(sink, now, rnd)
    rows = [_activity(rnd, i, rnd.choice(TENANTS),
                      now - dt.timedelta(seconds=rnd.uniform(-7200, 120 * 86400)))
            for i in range(4000)]
    rows += _lead_touches(rows) + _quiet_deal_notes(now) + _idle_rep_touches(now)
    for k in range(0, len(rows), 250):
        sink.backend.insert_arrow(f"{DB}.activities", activities_table(rows[k:k + 250]),
                                  f"r:{k}")
    sink.backend.insert_arrow(f"{DB}.activities", activities_table(rows[:250]), "r:0")  # retry
    yield sink
    backend.command(f"DROP DATABASE IF EXISTS {DB}")


def _moments() -> list[str]:
    """Fixed moments (both views of a pair judge the same one): now, 3 days and 40 days ago,
    3 hours ahead; each as the panels pass it."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return [f"toDateTime64('{t:%Y-%m-%d %H:%M:%S.%f}', 3, 'UTC')" for t in (
        now, now - dt.timedelta(days=3), now - dt.timedelta(days=40),
        now + dt.timedelta(hours=3))]


def _rows(sink: ClickHouseSink, view: str, tenant: str, now: str,
          rep: str | None = None) -> list[tuple[Any, ...]]:
    base = view.removeprefix("old_")
    unordered = UNORDERED.get(base)
    columns = f"* REPLACE (arraySort({unordered}) AS {unordered})" if unordered else "*"
    if base in UNPARAMETERIZED:
        sql = f"SELECT {columns} FROM {DB}.{view} WHERE '{tenant}' IN ('', tenant)"
    else:
        more = "" if rep is None else f"rep = '{rep}', "
        sql = f"SELECT {columns} FROM {DB}.{view}(tenant = '{tenant}', {more}now = {now})"
    return sorted(sink.query(sql).rows, key=repr)


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_rewritten_view_returns_what_the_view_it_replaced_returned(sink: ClickHouseSink,
                                                                   view: str) -> None:
    shown = 0
    reps = ("", "r-1", "r-3") if view in WITH_REP else (None,)
    for tenant in (*TENANTS, ""):
        for now in _moments():
            for rep in reps:
                new = _rows(sink, view, tenant, now, rep)
                old = _rows(sink, f"old_{view}", tenant, now, rep)
                assert new == old, (view, tenant, now, rep)
                shown += len(old)
    assert shown > 0, f"the generated rows must give {view} rows to compare"


@pytest.mark.parametrize("view", sorted(SCOPED))
def test_scoped_view_returns_the_rows_of_its_scope(sink: ClickHouseSink, view: str) -> None:
    unscoped, scopes = SCOPED[view]
    # the scoped view's columns of the unscoped one (it may have more)
    columns = ", ".join(r[0] for r in sink.query(
        f"DESCRIBE (SELECT * FROM {DB}.old_{unscoped}(tenant = '', now = now64(3, 'UTC')))").rows)
    shown = 0
    for tenant in (*TENANTS, ""):
        for now in _moments():
            for team in SCOPES["team"]:
                for rep in SCOPES["rep"] if "rep" in scopes else ("",):
                    args = f"team = '{team}', " + (f"rep = '{rep}', " if "rep" in scopes else "")
                    old = sorted(sink.query(
                        f"SELECT * FROM {DB}.old_{unscoped}(tenant = '{tenant}', now = {now}) "
                        f"WHERE '{team}' IN ('', team_id) AND '{rep}' IN ('', rep_id)"
                    ).rows, key=repr)
                    new = sorted(sink.query(
                        f"SELECT {columns} "
                        f"FROM {DB}.{view}(tenant = '{tenant}', {args}now = {now})"
                    ).rows, key=repr)
                    assert new == old, (view, tenant, now, team, rep)
                    shown += len(old) if team and (rep or "rep" not in scopes) else 0
    assert shown > 0, f"the generated rows must give {view} rows of one scope to compare"


def test_the_rows_cover_the_raw_branch_and_retries(sink: ClickHouseSink) -> None:
    future = sink.query(f"SELECT count() FROM {DB}.activities "
                        "WHERE occurred_at > now64(3, 'UTC')").scalar()
    assert future > 0  # accounts with an event after `now`: computed from their raw rows
    raw = sink.query(f"SELECT countIf(is_touch = 1) FROM {DB}.activities "
                     "WHERE account_id != ''").scalar()
    assert sink.query(f"SELECT sum(touches) FROM {DB}.account_activity").scalar() == raw
    assert sink.query(f"SELECT countIf(NOT endsWith(event_id, '-touch') "
                      f"AND NOT startsWith(event_id, 'quiet-')) FROM {DB}.activities"
                      ).scalar() == 4000
    # cadences with exits of each kind, some started more than 90 days ago
    exits = sink.query(f"SELECT countIf(exit_reason != ''), uniqExact(exit_reason), "
                       "countIf(started_at < now64(3, 'UTC') - INTERVAL 80 DAY) "
                       f"FROM {DB}.cadence_progress(tenant = '', rep = '', "
                       "now = now64(3, 'UTC') + INTERVAL 3 HOUR)").rows[0]
    assert exits[0] > 20 and exits[1] >= 6 and exits[2] > 0, exits
    # reps with leads in the 7 days, some touched within the SLA and some not
    leads = sink.query(f"SELECT countIf(actual > 0), countIf(actual < 100) "
                       f"FROM {DB}.rep_activity_vs_plan(tenant = '', now = now64(3, 'UTC')) "
                       "WHERE activity = 'leads_touched_within_sla'").rows[0]
    assert leads[0] > 0 and leads[1] > 0, leads
    stages = sink.query(f"SELECT uniqExact(source, stage) FROM {DB}.unmapped_stages").scalar()
    assert stages >= 4  # two unknown names from two sources


def test_a_wrong_rollup_fails_the_comparison(sink: ClickHouseSink) -> None:
    # the comparison must be able to fail: a touch the raw rows do not have shows up
    sink.command(f"INSERT INTO {DB}.account_activity SELECT tenant, account_id, first_seen_at, "
                 "last_seen_at, last_touch_at, 1, last_channel, last_rep_id, last_team_id "
                 f"FROM {DB}.account_activity "
                 "WHERE last_seen_at < now64(3, 'UTC') - INTERVAL 1 DAY LIMIT 1")
    try:
        now = _moments()[0]
        assert _rows(sink, "accounts_vs_touch_limit", "", now) != _rows(
            sink, "old_accounts_vs_touch_limit", "", now)
    finally:
        sink.command(f"TRUNCATE TABLE {DB}.account_activity")
        sink.command(f"INSERT INTO {DB}.account_activity SELECT tenant, account_id, "
                     "min(occurred_at), max(occurred_at), maxIf(occurred_at, is_touch = 1), "
                     "countIf(is_touch = 1), argMaxIfState(toString(channel), occurred_at, "
                     "is_touch = 1), argMaxState(rep_id, occurred_at), "
                     f"argMaxState(toString(team_id), occurred_at) FROM {DB}.activities "
                     "WHERE account_id != '' GROUP BY tenant, account_id")
