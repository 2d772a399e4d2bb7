"""Tenant isolation through the REAL pipeline: tenants A and B share every id (reps, team,
account, opportunity) and one activities partition, yet A's events never reach B's aggregates
(touch_counts, stage_visits, opportunity_state) or B's dashboards, and vice versa.

Dashboards: every panel that reads a table with a tenant column is run for A, for B and for a
tenant with no data; a panel that ignored the tenant would show the other tenant's rows.
The ops dashboard's pipeline_metrics panels are cross-tenant by design (that table has no
tenant column; see sinks/SECURITY.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from touchline.dashboards.local.catalog import dashboards
from touchline.dashboards.local.macros import ALL
from touchline.dashboards.local.sqlcheck import expanded

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
A, B = "tenant-a", "tenant-b"


def _event(tenant: str, n: int, type_: str, rep: str, minutes_ago: int, **fields: object) -> dict:
    return {"event_id": f"{tenant}-{n}", "tenant": tenant, "type": type_, "source": "iso",
            "occurred_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
            "rep_id": rep, "team_id": "team-1", "account_id": "acct-1", **fields}


def _call(t: str, n: int, rep: str, ago: int) -> dict:
    return _event(t, n, "call", rep, ago, direction="outbound", outcome="connected")


def _email(t: str, n: int, rep: str, ago: int) -> dict:
    return _event(t, n, "email", rep, ago, action="sent")


def _stage(t: str, n: int, ago: int, frm: str | None, to: str) -> dict:
    return _event(t, n, "stage_change", "rep-1", ago, opportunity_id="opp-1",
                  from_stage=frm, to_stage=to)


EVENTS = {
    A: [_call(A, 1, "rep-1", 50), _call(A, 2, "rep-1", 40), _call(A, 3, "rep-1", 30),
        _email(A, 4, "rep-1", 20), _email(A, 5, "a-only-rep", 10),
        _stage(A, 6, 55, None, "discovery"), _stage(A, 7, 25, "discovery", "a-only-stage")],
    B: [_call(B, 1, "rep-1", 45), _email(B, 2, "b-only-rep", 35), _email(B, 3, "b-only-rep", 15),
        _email(B, 4, "rep-2", 5), _stage(B, 5, 50, None, "qualify"),
        _stage(B, 6, 15, "qualify", "b-only-stage"), _stage(B, 7, 5, "b-only-stage", "won")],
}


def truth(tenant: str) -> dict[str, object]:
    """Hand-derivable expectations for one tenant."""
    events = EVENTS[tenant]
    touches = Counter((e["rep_id"], e["type"]) for e in events if e["type"] in ("call", "email"))
    stages = [e["to_stage"] for e in events if e["type"] == "stage_change"]
    return {"touches": dict(touches), "stages": sorted(stages), "current": stages[-1],
            "changes": len(stages)}


def test_tenant_a_never_in_tenant_b(pipeline_factory: Callable) -> None:
    p = pipeline_factory(partitions=1)  # both tenants share the one activities partition
    lines = [orjson.dumps(e) for t in (A, B) for e in EVENTS[t]]
    p.produce(lines, batch=5)
    p.wait_rows("activities", len(lines))
    p.wait_settled()
    for tenant in (A, B):
        want = truth(tenant)
        touches = dict(((rep, ch), int(n)) for rep, ch, n in p.rows(
            "SELECT entity_id, channel, sum(touches) FROM {db}.touch_counts "
            "WHERE tenant = {t:String} AND entity_type = 'rep' GROUP BY entity_id, channel",
            t=tenant))
        assert touches == want["touches"], tenant
        stages = sorted(r[0] for r in p.rows(
            "SELECT stage FROM {db}.stage_visits FINAL WHERE tenant = {t:String}", t=tenant))
        assert stages == want["stages"], tenant
        current, changes = p.rows(
            "SELECT current_stage, stage_changes FROM {db}.opportunity_state FINAL "
            "WHERE tenant = {t:String} AND opportunity_id = 'opp-1'", t=tenant)[0]
        assert (current, int(changes)) == (want["current"], want["changes"]), tenant
    assert p.scalar("SELECT count() FROM {db}.activities WHERE tenant NOT IN {ts:Array(String)}",
                    ts=[A, B]) == 0
    # signals: whatever the evaluator fired (if anything) names its own tenant's reps only
    for tenant, other_only in ((A, "b-only"), (B, "a-only")):
        leaked = p.scalar("SELECT count() FROM {db}.signals WHERE tenant = {t:String} AND "
                          "(position(rep_id, {o:String}) > 0 OR position(message, {o:String}) > 0"
                          " OR position(evidence, {o:String}) > 0)", t=tenant, o=other_only)
        assert leaked == 0

    checked, differing = _dashboards_are_tenant_scoped(p)
    assert checked >= 8 and differing >= 3, (checked, differing)


def _dashboards_are_tenant_scoped(p: object) -> tuple[int, int]:
    """Run every tenant-filtered panel for A, B and a tenant with no data.

    Returns (panels checked, panels whose A and B results differ: the data is really there).
    """
    checked = differing = 0
    for board in dashboards():
        names = {v.name for v in board.variables}
        for panel in board.panels:
            tables = set(re.findall(r"touchline\.(\w+)", panel.sql))
            if tables <= {"pipeline_metrics"}:
                continue  # operator panels: no tenant column (documented)
            if "tenant" not in panel.sql:
                print(f"NOT TENANT-FILTERED: {board.uid} panel {panel.index} {panel.title!r}")
                continue
            seen = {}
            for tenant in (A, B, "tenant-nobody"):
                values = {"tenant": tenant, "team": "team-1",
                          "rep": ALL if board.uid == "touchline-coaching" else "rep-1"}
                sql = expanded(panel, {k: v for k, v in values.items() if k in names})
                rows = p.sink.query(sql).rows  # type: ignore[attr-defined]
                text = repr(rows)
                other = "b-only" if tenant == A else "a-only" if tenant == B else "only"
                assert other not in text, (board.uid, panel.title, tenant, rows)
                seen[tenant] = rows
            assert _empty(seen["tenant-nobody"]), (board.uid, panel.title, seen["tenant-nobody"])
            checked += 1
            differing += seen[A] != seen[B]
    return checked, differing


def _empty(rows: list[tuple]) -> bool:
    """No rows, or only zero / empty / NULL cells (an aggregate over nothing)."""
    return all(cell in (0, 0.0, None, "", "tenant-nobody") or cell != cell  # NaN
               or isinstance(cell, datetime)
               for row in rows for cell in row)


def test_same_event_id_in_two_tenants_counts_in_each(pipeline_factory: Callable) -> None:
    """Two tenants' sources may use the same event id (e.g. both on one vendor's id space):
    dedup must not drop tenant B's event as a duplicate of tenant A's."""
    p = pipeline_factory(partitions=1)
    lines = [orjson.dumps({**_call(t, 1, "rep-1", 30), "event_id": "shared-id-1"})
             for t in (A, B)]
    p.produce(lines, batch=1)
    p.wait_rows("activities", 1)
    p.wait_settled()
    per_tenant = dict(p.rows("SELECT tenant, count() FROM {db}.activities GROUP BY tenant"))
    assert per_tenant == {A: 1, B: 1}
