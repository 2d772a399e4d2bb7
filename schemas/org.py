"""The org (docs/org.md): teams, reps with effective-dated periods, accounts (no I/O).

A rep who moved teams (or changed role) appears once per period, each with `active_from` and
`active_to` (exclusive; absent = still in force). Vendor identities (Salesforce ids, HubSpot
user and owner ids, Outreach user ids, phones, emails, domains) ride on the same entries, so the
identity resolver and the org tables are built from one file. Internal models: unknown fields
are errors, values are frozen. `org_problems` checks what one entry cannot: references between
sections, overlapping periods, an identity claimed by two reps.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

#: `active_to` of a period that is still open (what the tables store)
OPEN_END = dt.datetime(2106, 1, 1, tzinfo=dt.UTC)
#: `active_from` of a period with no start date
BEGINNING = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: the sections of an org file, in load order
SECTIONS = ("teams", "reps", "accounts")
#: the vendor identity lists a rep entry may carry (kind in the identity resolver)
REP_IDENTITIES = ("salesforce_ids", "hubspot_user_ids", "hubspot_owner_ids",
                  "outreach_user_ids", "phones", "emails")
#: the vendor identity lists an account entry may carry
ACCOUNT_IDENTITIES = ("domains", "salesforce_ids", "hubspot_company_ids")


def _date_or_time(value: Any) -> Any:
    """A bare date (YAML `2026-03-15`, CSV `2026-03-15`) is midnight UTC that day."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                return text
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        return text
    return value


def _id_list(value: Any) -> Any:
    """A list of ids; a single value (or a CSV cell `a;b`) becomes a list, blanks dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [str(value)]
    return value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _no_spaces(value: str) -> str:
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError(f"{value!r} is not an id: ids have no spaces")
    return value


def _role_name(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValueError(f"{value!r} is not a role: use a lower-case name such as sdr, ae, am "
                         "or manager (the plan's roles carry the targets)")
    return value


Id = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_spaces)]
OptionalId = Annotated[Id | None, BeforeValidator(_blank_is_none)]
Moment = Annotated[AwareDatetime, BeforeValidator(_date_or_time)]
OptionalMoment = Annotated[AwareDatetime | None, BeforeValidator(_blank_is_none),
                           BeforeValidator(_date_or_time)]
Ids = Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]],
                BeforeValidator(_id_list)]
#: sdr, ae, am, manager, ... (lower case; the plan's `roles` carry the targets)
Role = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_role_name)]
Label = Annotated[str, Field(max_length=64)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True,
                              str_strip_whitespace=True)


class Team(_Entry):
    """A team and its manager."""

    team_id: Id
    name: str = Field("", max_length=256)
    manager_rep_id: OptionalId = None


class RepPeriod(_Entry):
    """A rep during one period: role, team and manager from `active_from` to `active_to`."""

    rep_id: Id
    name: str = Field("", max_length=256)
    email: str = Field("", max_length=256)
    role: Role
    team_id: Id
    manager_rep_id: OptionalId = None
    active_from: Moment = BEGINNING
    active_to: OptionalMoment = None
    salesforce_ids: Ids = []
    hubspot_user_ids: Ids = []
    hubspot_owner_ids: Ids = []
    outreach_user_ids: Ids = []
    phones: Ids = []
    emails: Ids = []

    @property
    def end(self) -> dt.datetime:
        """`active_to`, or the far-future end of an open period."""
        return self.active_to or OPEN_END

    def in_force(self, at: dt.datetime) -> bool:
        """True when this period covers `at`."""
        return self.active_from <= at < self.end


class Account(_Entry):
    """An account in a team's book: owner, tier, segment, industry and its vendor ids."""

    account_id: Id
    name: str = Field("", max_length=256)
    owner_rep_id: OptionalId = None
    team_id: OptionalId = None
    tier: Label = ""
    segment: Label = ""
    industry: Label = ""
    domains: Ids = []
    salesforce_ids: Ids = []
    hubspot_company_ids: Ids = []


class Org(_Entry):
    """One org file (or several CSV files read together).

    A section left out (None) is not touched by a load; an empty list clears it.
    """

    tenant: OptionalId = None
    teams: list[Team] | None = None
    reps: list[RepPeriod] | None = None
    accounts: list[Account] | None = None

    def sections(self) -> list[str]:
        """The sections this org sets, in load order."""
        return [name for name in SECTIONS if getattr(self, name) is not None]

    @cached_property
    def periods(self) -> dict[str, list[RepPeriod]]:
        """Rep id -> their periods, oldest first (reps in file order)."""
        out: dict[str, list[RepPeriod]] = {}
        for p in self.reps or []:
            out.setdefault(p.rep_id, []).append(p)
        return {rep_id: sorted(ps, key=lambda p: p.active_from) for rep_id, ps in out.items()}

    def rep_ids(self) -> list[str]:
        """Every rep id, in file order, once."""
        return list(self.periods)

    def period_in_force(self, rep_id: str, at: dt.datetime) -> RepPeriod | None:
        """The rep's period covering `at`; else the latest that started; else the first."""
        periods = self.periods.get(rep_id, [])
        for p in periods:
            if p.in_force(at):
                return p
        started = [p for p in periods if p.active_from <= at]
        return started[-1] if started else (periods[0] if periods else None)


def _where(section: str, index: int) -> str:
    return f"{section}[{index + 1}]"


def org_problems(org: Org) -> list[str]:
    """What single entries cannot say is wrong: references, overlaps, shared identities.

    References are checked against the sections present: a rep's team must be one of the file's
    teams when the file lists teams, an account's owner one of its reps when it lists reps.
    """
    problems: list[str] = []
    teams = {t.team_id for t in org.teams} if org.teams is not None else None
    reps = set(org.rep_ids()) if org.reps is not None else None
    seen_teams: set[str] = set()
    for i, team in enumerate(org.teams or []):
        if team.team_id in seen_teams:
            problems.append(f"{_where('teams', i)}.team_id: {team.team_id!r} is listed twice")
        seen_teams.add(team.team_id)
        if reps is not None and team.manager_rep_id and team.manager_rep_id not in reps:
            problems.append(f"{_where('teams', i)}.manager_rep_id: {team.manager_rep_id!r} is "
                            "not a rep of this file")
    owners: dict[tuple[str, str], str] = {}
    earlier: dict[str, list[int]] = {}  # rep id -> positions of their periods so far
    for i, rep in enumerate(org.reps or []):
        where = _where("reps", i)
        if rep.active_to is not None and rep.active_to <= rep.active_from:
            problems.append(f"{where}.active_to: must be after active_from "
                            f"({rep.active_from:%Y-%m-%d %H:%M}Z)")
        if teams is not None and rep.team_id not in teams:
            problems.append(f"{where}.team_id: {rep.team_id!r} is not a team of this file")
        if reps is not None and rep.manager_rep_id and rep.manager_rep_id not in reps:
            problems.append(f"{where}.manager_rep_id: {rep.manager_rep_id!r} is not a rep of "
                            "this file")
        for j in earlier.setdefault(rep.rep_id, []):
            other = (org.reps or [])[j]
            if rep.active_from < other.end and other.active_from < rep.end:
                problems.append(f"{where}: period of {rep.rep_id} overlaps {_where('reps', j)} "
                                "(a rep is in one team at a time: end one period where the "
                                "next begins)")
        earlier[rep.rep_id].append(i)
        for kind in REP_IDENTITIES:
            for value in getattr(rep, kind):
                key = (kind, value.strip().lower() if kind == "emails" else value.strip())
                owner = owners.setdefault(key, rep.rep_id)
                if owner != rep.rep_id:
                    problems.append(f"{where}.{kind}: {value!r} also belongs to {owner}")
    seen_accounts: dict[str, int] = {}
    for i, account in enumerate(org.accounts or []):
        where = _where("accounts", i)
        if account.account_id in seen_accounts:
            problems.append(f"{where}.account_id: {account.account_id!r} is listed twice "
                            f"(first at {_where('accounts', seen_accounts[account.account_id])})")
        seen_accounts.setdefault(account.account_id, i)
        if reps is not None and account.owner_rep_id and account.owner_rep_id not in reps:
            problems.append(f"{where}.owner_rep_id: {account.owner_rep_id!r} is not a rep of "
                            "this file")
        if teams is not None and account.team_id and account.team_id not in teams:
            problems.append(f"{where}.team_id: {account.team_id!r} is not a team of this file")
    return problems
