"""The identity map: vendor identities (phones, emails, CRM ids) -> rep / team / account / prospect.

The map is a YAML file (see examples/identities.yaml and touchline/webhooks/README.md):

    reps:        [{rep_id, team_id, phones, emails, salesforce_ids, hubspot_user_ids,
                   hubspot_owner_ids, outreach_user_ids}]
    accounts:    [{account_id, domains, salesforce_ids, hubspot_company_ids}]
    prospects:   [{prospect_id, account_id, owner_rep_id, emails, phones, salesforce_ids,
                   hubspot_contact_ids, outreach_prospect_ids}]
    opportunities: [{opportunity_id, account_id, owner_rep_id, salesforce_ids,
                     hubspot_deal_ids}]

The org file (docs/org.md) carries the same identities on its reps and accounts:
`IdentityMapFile.from_org` turns it into a map (each rep in the team in force at a moment) and
`merged` lays one map over another, so the resolver reads both (touchline/org/identity.py).

An identity that is not in the map is KEPT: the id becomes `unknown:<kind>:<value>` (so the
event still counts and can be re-attributed later) and the resolver counts it in `unknown`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from touchline.schemas.org import Org
from touchline.schemas.vendors.config_file import read_yaml_model

UNKNOWN_TEAM = "unknown"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class RepEntry(_Entry):
    """One rep and the identities that are theirs."""

    rep_id: str = Field(min_length=1, max_length=128)
    team_id: str = Field(min_length=1, max_length=128)
    phones: list[str] = []
    emails: list[str] = []
    salesforce_ids: list[str] = []
    hubspot_user_ids: list[str] = []
    hubspot_owner_ids: list[str] = []
    outreach_user_ids: list[str] = []


class AccountEntry(_Entry):
    """One customer account (the company a prospect works for)."""

    account_id: str = Field(min_length=1, max_length=128)
    domains: list[str] = []
    salesforce_ids: list[str] = []
    hubspot_company_ids: list[str] = []


class ProspectEntry(_Entry):
    """One prospect (a person at an account) and who owns them."""

    prospect_id: str = Field(min_length=1, max_length=128)
    account_id: str = Field(min_length=1, max_length=128)
    owner_rep_id: str | None = None
    emails: list[str] = []
    phones: list[str] = []
    salesforce_ids: list[str] = []
    hubspot_contact_ids: list[str] = []
    outreach_prospect_ids: list[str] = []


class OpportunityEntry(_Entry):
    """One opportunity (deal) and its account."""

    opportunity_id: str = Field(min_length=1, max_length=128)
    account_id: str = Field(min_length=1, max_length=128)
    owner_rep_id: str | None = None
    salesforce_ids: list[str] = []
    hubspot_deal_ids: list[str] = []


class IdentityMapFile(_Entry):
    """The whole YAML document."""

    reps: list[RepEntry] = []
    accounts: list[AccountEntry] = []
    prospects: list[ProspectEntry] = []
    opportunities: list[OpportunityEntry] = []

    @classmethod
    def from_org(cls, org: Org, at: datetime) -> IdentityMapFile:
        """The org's reps (in their team in force at `at`) and accounts as an identity map.

        A rep's identities are those of all their periods: an id stays theirs after a move.
        """
        reps = []
        for rep_id in org.rep_ids():
            periods = org.periods[rep_id]
            current = org.period_in_force(rep_id, at)
            assert current is not None  # every rep id comes from a period

            def union(kind: str, periods: list[Any] = periods) -> list[str]:
                return list(dict.fromkeys(v for p in periods for v in getattr(p, kind)))

            emails = union("emails") + [p.email for p in periods if p.email]
            reps.append(RepEntry(
                rep_id=rep_id, team_id=current.team_id, phones=union("phones"),
                emails=list(dict.fromkeys(emails)), salesforce_ids=union("salesforce_ids"),
                hubspot_user_ids=union("hubspot_user_ids"),
                hubspot_owner_ids=union("hubspot_owner_ids"),
                outreach_user_ids=union("outreach_user_ids")))
        accounts = [AccountEntry(account_id=a.account_id, domains=a.domains,
                                 salesforce_ids=a.salesforce_ids,
                                 hubspot_company_ids=a.hubspot_company_ids)
                    for a in org.accounts or []]
        return cls(reps=reps, accounts=accounts)

    def merged(self, over: IdentityMapFile) -> IdentityMapFile:
        """Two maps in one, `over` laid on top of this one.

        Where both name the same rep, account or identity, `over` wins: the resolver indexes
        later entries last, and a rep's team is the one of their last entry.
        """
        return IdentityMapFile(reps=self.reps + over.reps, accounts=self.accounts + over.accounts,
                               prospects=self.prospects + over.prospects,
                               opportunities=self.opportunities + over.opportunities)


class IdentityMapError(ValueError):
    """The identity map file is missing or invalid (message names file and field)."""


@dataclass(frozen=True)
class Rep:
    """A resolved rep."""

    rep_id: str
    team_id: str


@dataclass(frozen=True)
class Party:
    """A resolved prospect and account (either may be an `unknown:` id)."""

    prospect_id: str | None
    account_id: str


def normalize_phone(value: str) -> str:
    """E.164-ish: keep a leading + and the digits."""
    value = value.strip()
    digits = re.sub(r"\D", "", value)
    return ("+" + digits) if value.startswith("+") else digits


def normalize_email(value: str) -> str:
    """Lower-case, surrounding spaces and a `Name <addr>` wrapper removed."""
    value = value.strip()
    match = re.search(r"<([^>]+)>", value)
    return (match.group(1) if match else value).strip().lower()


def normalize_sf_id(value: str) -> str:
    """Salesforce ids: the 18-char form's first 15 chars are the case-sensitive id."""
    value = value.strip()
    return value[:15] if len(value) == 18 else value


_NORMALIZE = {"phone": normalize_phone, "email": normalize_email, "salesforce": normalize_sf_id}


def _norm(kind: str, value: Any) -> str:
    text = str(value)
    return _NORMALIZE.get(kind, str.strip)(text)


def unknown_id(kind: str, value: Any) -> str:
    """The id an unmapped identity gets: `unknown:<kind>:<value>` (at most 128 chars)."""
    text = re.sub(r"[\x00-\x1f]", "", _norm(kind, value)) or "?"
    return f"unknown:{kind}:{text}"[:128]


class IdentityResolver:
    """Lookups over one identity map; counts every identity it could not resolve."""

    def __init__(self, data: IdentityMapFile | None = None) -> None:
        self.data = data or IdentityMapFile()
        self.unknown: Counter[str] = Counter()
        self._reps: dict[tuple[str, str], Rep] = {}
        self._rep_by_id: dict[str, Rep] = {}
        self._prospects: dict[tuple[str, str], ProspectEntry] = {}
        self._accounts: dict[tuple[str, str], str] = {}
        self._opps: dict[tuple[str, str], OpportunityEntry] = {}
        for r in self.data.reps:  # a rep listed twice (merged maps): the last entry's team
            self._rep_by_id[r.rep_id] = Rep(r.rep_id, r.team_id)
        for r in self.data.reps:
            rep = self._rep_by_id[r.rep_id]
            self._index(self._reps, rep, phone=r.phones, email=r.emails,
                        salesforce=r.salesforce_ids, hubspot_user=r.hubspot_user_ids,
                        hubspot_owner=r.hubspot_owner_ids, outreach_user=r.outreach_user_ids)
        for a in self.data.accounts:
            self._index(self._accounts, a.account_id, domain=a.domains,
                        salesforce=a.salesforce_ids, hubspot_company=a.hubspot_company_ids)
        for p in self.data.prospects:
            self._index(self._prospects, p, phone=p.phones, email=p.emails,
                        salesforce=p.salesforce_ids, hubspot_contact=p.hubspot_contact_ids,
                        outreach_prospect=p.outreach_prospect_ids)
        for o in self.data.opportunities:
            self._index(self._opps, o, salesforce=o.salesforce_ids, hubspot_deal=o.hubspot_deal_ids)

    @staticmethod
    def _index(target: dict[tuple[str, str], Any], item: Any, **kinds: list[str]) -> None:
        for kind, values in kinds.items():
            for value in values:
                target[(kind, _norm("email" if kind == "domain" else kind, value))] = item

    @classmethod
    def load(cls, path: Path) -> IdentityResolver:
        """Read and validate a YAML identity map."""
        return cls(read_yaml_model(path, IdentityMapFile, IdentityMapError, "identity map"))

    def unknown_for(self, kind: str, value: Any) -> str:
        """Count an unresolved identity and return its `unknown:<kind>:<value>` id."""
        uid = unknown_id(kind, value)
        self.unknown[uid] += 1
        return uid

    def rep(self, kind: str, value: Any) -> Rep:
        """The rep owning this identity, or an `unknown:` rep in team `unknown`."""
        if value not in (None, ""):
            found = self._reps.get((kind, _norm(kind, value)))
            if found:
                return found
        return Rep(self.unknown_for(kind, value if value not in (None, "") else "?"), UNKNOWN_TEAM)

    def rep_by_id(self, rep_id: str | None) -> Rep | None:
        """A rep named directly by id (a prospect's or opportunity's owner)."""
        return self._rep_by_id.get(rep_id) if rep_id else None

    def prospect(self, kind: str, value: Any) -> tuple[Party, Rep | None]:
        """(prospect + account, the prospect's owner if known) for a prospect identity."""
        found = self._prospects.get((kind, _norm(kind, value))) if value else None
        if found:
            return Party(found.prospect_id, found.account_id), self.rep_by_id(found.owner_rep_id)
        prospect_id = self.unknown_for(kind, value or "?")
        if kind == "email" and value and "@" in str(value):
            domain = normalize_email(str(value)).rsplit("@", 1)[1]
            account_id = self._accounts.get(("domain", domain))
            account_id = account_id or self.unknown_for("domain", domain)
            return Party(prospect_id, account_id), None
        return Party(prospect_id, prospect_id), None

    def account(self, kind: str, value: Any) -> str:
        """The account for a CRM account id."""
        found = self._accounts.get((kind, _norm(kind, value))) if value else None
        return found or self.unknown_for(kind, value or "?")

    def opportunity(self, kind: str, value: Any) -> tuple[str, str | None, Rep | None]:
        """(opportunity_id, account_id or None, owner) for a CRM opportunity / deal id."""
        found = self._opps.get((kind, _norm(kind, value)))
        if found:
            return found.opportunity_id, found.account_id, self.rep_by_id(found.owner_rep_id)
        return f"{kind}:{_norm(kind, value)}"[:128], None, None
