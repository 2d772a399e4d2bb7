"""Rule views rewritten for speed (0020 open_deal_dwell, 0021 account_activity) answer exactly
as the 0013 views did.

The 0013 text of each view is created beside the new one under an `old_` name, in a database
of its own (`tl_rule_views`, on the package's engine), over generated rows: two tenants, a plan
in force with stage SLAs and tiers, accounts with and without a tier or segment, open and
closed deals, touches on their accounts, events naming them, rows more than 30 days old and
rows in the future (so the raw branch of accounts_vs_touch_limit runs), and a block retried
with the same deduplication token. Every view is compared for every tenant and '' (all), at
now, at a past `now` and before most of the rows.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.migrations import migrate, migration_files, statements
from touchline.sinks.rows import activities_table

pytestmark = pytest.mark.integration

DB = "tl_rule_views"
TENANTS = ("acme", "globex")
STAGES = ("discovery", "proposal", "negotiation", "won", "lost")
#: view -> the views it reads that are rewritten too (their old text is read instead)
VIEWS = {
    "open_deals_vs_sla": (),
    "rule_stuck_deals": ("open_deals_vs_sla",),
    "rule_inactive_deals": ("open_deals_vs_sla",),
    "accounts_vs_touch_limit": (),
    "rule_untouched_accounts": ("accounts_vs_touch_limit",),
}


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _activity(rnd: random.Random, n: int, tenant: str, at: dt.datetime) -> dict[str, Any]:
    kind = rnd.choices(["call", "email", "stage_change", "note"], [40, 40, 12, 8])[0]
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
        row.update(opportunity_id=opp, from_stage="discovery", to_stage=rnd.choice(STAGES))
    elif rnd.random() < 0.5:
        row["opportunity_id"] = opp  # an event naming the deal
    return row


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
        "plan_tiers": [{**plan, "tenant": t, "tier": tier, "untouched_after_s": days * 86400,
                        "speed_to_lead_s": 3600}
                       for t in TENANTS for tier, days in (("standard", 3), ("key", 1))],
        "accounts": [{"tenant": t, "account_id": f"acct-{a}", "name": f"A{a}" if a % 4 else "",
                      "tier": ("key", "", "standard")[a % 3],
                      "segment": ("", "enterprise")[a % 2], "team_id": "" if a % 5 else "t-x",
                      "owner_rep_id": "" if a % 3 else "r-9", "updated_at": start}
                     for t in TENANTS for a in range(0, 40, 2)],  # some only in activities
        "opportunity_state": [{
            "tenant": t, "opportunity_id": f"opp-{a}-{k}", "account_id": f"acct-{a}",
            "rep_id": f"r-{a % 5}", "team_id": f"team-{a % 3}",
            "current_stage": rnd.choice(STAGES),
            "stage_entered_at": now - dt.timedelta(hours=rnd.uniform(-2, 24 * 12)),
            "first_seen_at": now - dt.timedelta(days=20), "stage_changes": 3,
            "is_closed": int(rnd.random() < 0.1), "version": 1}
            for t in TENANTS for a in range(30) for k in range(2)],
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
    old = statements(dict(migration_files())["0013_rules"], DB)
    for view, reads in VIEWS.items():
        (text,) = [s for s in old if s.startswith(f"CREATE VIEW IF NOT EXISTS {DB}.{view} ")]
        for name in (view, *reads):
            text = text.replace(f"{DB}.{name}(", f"{DB}.old_{name}(").replace(
                f"{DB}.{name} AS", f"{DB}.old_{name} AS")
        backend.command(text)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rnd = random.Random(5)
    _dimensions(sink, now, rnd)
    rows = [_activity(rnd, i, rnd.choice(TENANTS),
                      now - dt.timedelta(seconds=rnd.uniform(-7200, 45 * 86400)))
            for i in range(3000)]
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


def _rows(sink: ClickHouseSink, view: str, tenant: str, now: str) -> list[tuple[Any, ...]]:
    sql = f"SELECT * FROM {DB}.{view}(tenant = '{tenant}', now = {now})"
    return sorted(sink.query(sql).rows, key=repr)


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_rewritten_rule_view_returns_what_the_0013_view_returned(sink: ClickHouseSink,
                                                                  view: str) -> None:
    shown = 0
    for tenant in (*TENANTS, ""):
        for now in _moments():
            new, old = _rows(sink, view, tenant, now), _rows(sink, f"old_{view}", tenant, now)
            assert new == old, (view, tenant, now)
            shown += len(old)
    assert shown > 0, f"the generated rows must give {view} rows to compare"


def test_the_rows_cover_the_raw_branch_and_retries(sink: ClickHouseSink) -> None:
    future = sink.query(f"SELECT count() FROM {DB}.activities "
                        "WHERE occurred_at > now64(3, 'UTC')").scalar()
    assert future > 0  # accounts with an event after `now`: computed from their raw rows
    raw = sink.query(f"SELECT countIf(is_touch = 1) FROM {DB}.activities "
                     "WHERE account_id != ''").scalar()
    assert sink.query(f"SELECT sum(touches) FROM {DB}.account_activity").scalar() == raw
    assert sink.query(f"SELECT count() FROM {DB}.activities").scalar() == 3000


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
