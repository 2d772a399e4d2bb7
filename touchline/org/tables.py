"""Write a validated org into ClickHouse: org_teams, org_rep_periods, reps and accounts.

Each section present in the file replaces that section for the tenant. Every row is written
with a new `version`; a team or rep period the file no longer holds gets a tombstone (same key,
newer version, is_deleted = 1), so FINAL reads exactly the file. `reps` gets each rep's period
in force now and `accounts` every account (the tables the existing views read); rows of reps
and accounts the file dropped are deleted from them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from touchline.schemas.org import Org
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.dimensions import write_dimensions

_TS = pa.timestamp("ms", tz="UTC")
TEAM_SCHEMA = pa.schema([
    ("tenant", pa.string()), ("team_id", pa.string()), ("name", pa.string()),
    ("manager_rep_id", pa.string()), ("is_deleted", pa.uint8()), ("version", pa.uint64()),
])
PERIOD_SCHEMA = pa.schema([
    ("tenant", pa.string()), ("rep_id", pa.string()), ("active_from", _TS),
    ("active_to", _TS), ("name", pa.string()), ("email", pa.string()), ("role", pa.string()),
    ("team_id", pa.string()), ("manager_rep_id", pa.string()), ("is_deleted", pa.uint8()),
    ("version", pa.uint64()),
])

CURRENT_TEAMS = "SELECT team_id FROM {db}.org_teams FINAL WHERE tenant = {tenant:String}"
CURRENT_PERIODS = """
SELECT rep_id, active_from FROM {db}.org_rep_periods FINAL WHERE tenant = {tenant:String}
"""
LAST_VERSION = """
SELECT greatest((SELECT max(version) FROM {db}.org_teams WHERE tenant = {tenant:String}),
                (SELECT max(version) FROM {db}.org_rep_periods WHERE tenant = {tenant:String}))
"""


@dataclass
class LoadResult:
    """What one load wrote, per table."""

    written: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        """`written: org_teams=3, ...; removed: ...` for the CLI."""
        text = "written: " + ", ".join(f"{k}={v}" for k, v in self.written.items())
        gone = {k: v for k, v in self.removed.items() if v}
        return text + ("; removed: " + ", ".join(f"{k}={v}" for k, v in gone.items())
                       if gone else "")


def _sql(sink: ClickHouseSink, text: str) -> str:
    return text.replace("{db}", sink.database)


def _quote(value: str) -> str:
    """A ClickHouse string literal (for the DELETE statements, which take no parameters)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _delete_missing(sink: ClickHouseSink, table: str, column: str, tenant: str,
                    keep: list[str]) -> int:
    """Delete the tenant's rows of `table` whose `column` is not in `keep`; returns how many."""
    where = f"tenant = {_quote(tenant)}"
    if keep:
        where += f" AND {column} NOT IN ({', '.join(_quote(k) for k in keep)})"
    gone = sink.query(f"SELECT count() FROM {sink.table(table)} FINAL WHERE {where}").scalar()
    if gone:
        sink.command(f"DELETE FROM {sink.table(table)} WHERE {where}")
    return int(gone)


def next_version(sink: ClickHouseSink, tenant: str, now: dt.datetime) -> int:
    """A version above every row the tenant's org tables hold (microseconds of `now`)."""
    last = sink.query(_sql(sink, LAST_VERSION), {"tenant": tenant}).scalar() or 0
    return max(int(now.timestamp() * 1_000_000), int(last) + 1)


def load_org(sink: ClickHouseSink, org: Org, tenant: str,
             now: dt.datetime | None = None) -> LoadResult:
    """Write the org's sections for `tenant` (each present section replaces the stored one)."""
    now = now or dt.datetime.now(dt.UTC)
    version = next_version(sink, tenant, now)
    result = LoadResult()
    params = {"tenant": tenant}
    if org.teams is not None:
        rows = [{"tenant": tenant, "team_id": t.team_id, "name": t.name,
                 "manager_rep_id": t.manager_rep_id or "", "is_deleted": 0, "version": version}
                for t in org.teams]
        keep = {t.team_id for t in org.teams}
        stale = [r[0] for r in sink.query(_sql(sink, CURRENT_TEAMS), params).rows
                 if r[0] not in keep]
        rows += [{"tenant": tenant, "team_id": t, "name": "", "manager_rep_id": "",
                  "is_deleted": 1, "version": version} for t in stale]
        sink.insert("org_teams", pa.Table.from_pylist(rows, schema=TEAM_SCHEMA))
        result.written["org_teams"], result.removed["org_teams"] = len(keep), len(stale)
    if org.reps is not None:
        _load_reps(sink, org, tenant, now, version, result)
    if org.accounts is not None:
        _load_accounts(sink, org, tenant, now, result)
    return result


def _load_reps(sink: ClickHouseSink, org: Org, tenant: str, now: dt.datetime, version: int,
               result: LoadResult) -> None:
    reps = org.reps or []
    rows: list[dict[str, Any]] = [{
        "tenant": tenant, "rep_id": p.rep_id, "active_from": p.active_from,
        "active_to": p.end, "name": p.name, "email": p.email, "role": p.role,
        "team_id": p.team_id, "manager_rep_id": p.manager_rep_id or "", "is_deleted": 0,
        "version": version} for p in reps]
    keep = {(p.rep_id, p.active_from) for p in reps}
    stale = []
    for rep_id, active_from in sink.query(_sql(sink, CURRENT_PERIODS), {"tenant": tenant}).rows:
        active_from = active_from.replace(tzinfo=dt.UTC)
        if (rep_id, active_from) not in keep:
            stale.append({"tenant": tenant, "rep_id": rep_id, "active_from": active_from,
                          "active_to": active_from, "name": "", "email": "", "role": "",
                          "team_id": "", "manager_rep_id": "", "is_deleted": 1,
                          "version": version})
    sink.insert("org_rep_periods", pa.Table.from_pylist(rows + stale, schema=PERIOD_SCHEMA))
    result.written["org_rep_periods"], result.removed["org_rep_periods"] = len(rows), len(stale)
    current = []
    for rep_id in org.rep_ids():
        period = org.period_in_force(rep_id, now)
        assert period is not None  # every rep id comes from a period
        current.append({"tenant": tenant, "rep_id": rep_id, "name": period.name or rep_id,
                        "team_id": period.team_id, "role": period.role})
    write_dimensions(sink, {"reps": current})
    result.written["reps"] = len(current)
    result.removed["reps"] = _delete_missing(sink, "reps", "rep_id", tenant, org.rep_ids())


def _load_accounts(sink: ClickHouseSink, org: Org, tenant: str, now: dt.datetime,
                   result: LoadResult) -> None:
    rows = []
    for a in org.accounts or []:
        team_id = a.team_id or ""
        if not team_id and a.owner_rep_id:
            owner = org.period_in_force(a.owner_rep_id, now)
            team_id = owner.team_id if owner else ""
        rows.append({"tenant": tenant, "account_id": a.account_id, "name": a.name or a.account_id,
                     "tier": a.tier, "segment": a.segment, "industry": a.industry,
                     "team_id": team_id, "owner_rep_id": a.owner_rep_id or ""})
    write_dimensions(sink, {"accounts": rows})
    result.written["accounts"] = len(rows)
    result.removed["accounts"] = _delete_missing(sink, "accounts", "account_id", tenant,
                                                 [a.account_id for a in org.accounts or []])
