"""A realistic sales org that emits canonical activity events (deterministic with a seed).

Teams of SDRs (who work cadences) and AEs (who own opportunities); accounts by tier and
segment; prospects moving through 8-touch cadences, most of them getting far fewer touches
than planned, with dispositions in between; inbound leads (speed-to-lead); meetings; quick
inside-sales deals next to 18-month enterprise deals. Motions: cold and inbound prospects are
`acquisition` with their campaign's product line; a share of accounts are customers, worked by
AEs for renewals (`retention`) and expansion (`upsell`) of one product line; a deal's events
carry its motion and product line. A controllable share of duplicates, out-of-order, late and
malformed events exercises the pipeline's guards.

The org is a real one: named reps with emails and vendor ids, a manager per team, one SDR who
moved teams halfway through the history (their earlier events carry the old team), and a few
accounts per team that no one ever works (`org_file` writes it all for `touchline org load`).
A share of deals live in a CRM: their stage changes come as Salesforce or HubSpot would send
them once mapped (the CRM's own stage name in `vendor_stage`, Salesforce's closed/won flags, no
`from_stage`, the user who made the edit in `editor_id`, the owner in `rep_id`).

Event content depends only on the seed; times follow a simulated clock that starts
`history_days` before `start` and, in live mode, then follows the wall clock.
"""

from __future__ import annotations

import heapq
import itertools
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from touchline.schemas.vendors.stage_map import DEFAULT_PIPELINE
from touchline.schemas.vendors.stage_map import DEFAULTS as CRM_DEFAULTS

CADENCES = {
    "outbound-8": ["email", "call", "email", "call", "call", "email", "call", "email"],
    "inbound-fast": ["call", "email", "call", "call", "email"],
}
STAGES = ["discovery", "demo", "proposal", "negotiation"]
CALL_OUTCOMES = (["connected"] * 20 + ["no_answer"] * 45 + ["voicemail"] * 25 + ["busy"] * 5
                 + ["failed"] * 5)
DISPOSITIONS = ["qualify", "disqualify", "postpone", "archive", "revisit"]
#: mean days in each open stage, by segment
STAGE_DAYS = {"smb": 5, "mid_market": 20, "enterprise": 90}
#: product lines, weighted by the share of campaigns (cadence prospects) about each
PRODUCT_LINES = {"platform": 5, "analytics": 3, "payments": 2}
#: share of accounts that are already customers (renewal and upsell work, no cold cadences)
CUSTOMER_SHARE = 0.3
#: share of a deal's stage moves that lose it, by motion (renewals are lost less often)
LOSS_RATE = {"acquisition": 0.2, "upsell": 0.2, "retention": 0.1}
#: the simulator's stages as each CRM's default pipeline names them: for each plan stage, the
#: first name the vendor mappers' default stage map gives it (Salesforce's standard StageName
#: picklist, HubSpot's internal dealstage values). HubSpot's default pipeline has no proposal
#: stage: its deals skip it.
CRM_STAGE_NAMES = {
    source: {stage: name for name, stage in reversed(pipelines[DEFAULT_PIPELINE].items())}
    for source, pipelines in CRM_DEFAULTS.items()
}
#: deals whose id hashes (crc32 % 4) to these live in a CRM; the rest are the simulator's own
CRM_BY_HASH = {0: "salesforce", 1: "hubspot"}
#: accounts per team in the book that never get an event (untouched from day one)
DORMANT_ACCOUNTS = 3


@dataclass
class Anomalies:
    """Shares (0..1) of events that are re-sent, shifted back, too late or broken."""

    duplicates: float = 0.02
    out_of_order: float = 0.05
    late: float = 0.003
    malformed: float = 0.003
    late_by_s: int = 10 * 24 * 3600


@dataclass
class Prospect:  # noqa: D101
    prospect_id: str
    account: dict[str, str]
    sdr: dict[str, str]
    cadence_id: str
    product_line: str = ""
    step: int = 0
    done: bool = False


@dataclass
class Opportunity:  # noqa: D101
    opportunity_id: str
    account: dict[str, str]
    ae: dict[str, str]
    stage: str = "discovery"
    entered: datetime | None = None
    motion: str = "acquisition"
    product_line: str = ""

    @property
    def crm(self) -> str:
        """The CRM this deal lives in ('' = the simulator's own events)."""
        return CRM_BY_HASH.get(zlib.crc32(self.opportunity_id.encode()) % 4, "")


@dataclass
class Org:
    """Teams, reps, accounts, prospects and opportunities of one tenant."""

    tenant: str
    teams: list[str]
    reps: list[dict[str, str]]
    accounts: list[dict[str, str]]
    prospects: list[Prospect] = field(default_factory=list)
    opportunities: list[Opportunity] = field(default_factory=list)
    #: customer account id -> the product lines it already has
    customers: dict[str, list[str]] = field(default_factory=dict)
    #: team id -> its manager's rep id
    managers: dict[str, str] = field(default_factory=dict)
    #: accounts in the book that the simulation never works
    dormant: list[dict[str, str]] = field(default_factory=list)


def build_org(rng: random.Random, tenant: str, teams: int = 3, sdrs: int = 4, aes: int = 2,
              accounts_per_team: int = 40) -> Org:
    """The org chart and book of accounts."""
    team_ids = ["team-east", "team-west", "team-enterprise", "team-north", "team-south"][:teams]
    if teams > 5:
        team_ids += [f"team-{i}" for i in range(6, teams + 1)]
    reps: list[dict[str, str]] = []
    accounts: list[dict[str, str]] = []
    for t in team_ids:
        short = t.removeprefix("team-")[:3]
        for i in range(sdrs):
            reps.append({"rep_id": f"sdr-{short}-{i + 1}", "team_id": t, "role": "sdr"})
        for i in range(aes):
            reps.append({"rep_id": f"ae-{short}-{i + 1}", "team_id": t, "role": "ae"})
        for i in range(accounts_per_team):
            segment = "enterprise" if t == "team-enterprise" else rng.choice(
                ["smb", "smb", "mid_market"])
            accounts.append({"account_id": f"acct-{short}-{i + 1:03d}", "team_id": t,
                             "tier": rng.choice(["A", "B", "B", "C", "C", "C"]),
                             "segment": segment})
    org = Org(tenant, team_ids, reps, accounts)
    # managers and dormant accounts draw from their own stream: the events stay as they were
    extra = random.Random(f"{tenant}:{len(accounts)}:org")
    for t in team_ids:
        short = t.removeprefix("team-")[:3]
        org.managers[t] = f"mgr-{short}"
        for i in range(DORMANT_ACCOUNTS):
            segment = "enterprise" if t == "team-enterprise" else extra.choice(
                ["smb", "mid_market"])
            org.dormant.append({"account_id": f"acct-{short}-d{i + 1:02d}", "team_id": t,
                                "tier": ["A", "B", "C"][i % 3], "segment": segment})
    return org


def move_date(start: datetime, history_days: float) -> datetime:
    """When the moving SDR changed teams: midnight UTC halfway through the history."""
    moved = start - timedelta(days=max(history_days, 2.0) / 2)
    return moved.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class Simulator:
    """Yields canonical events (dicts) and, at the configured shares, malformed payloads."""

    def __init__(self, seed: int = 7, tenant: str = "acme", anomalies: Anomalies | None = None,
                 teams: int = 3) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.org = build_org(self.rng, tenant, teams=teams)
        #: motions and product lines draw from their own stream, so the rest stays as it was
        self._labels = random.Random(f"{seed}:labels")
        self._mark_customers()
        self._prospect_accounts = [a for a in self.org.accounts
                                   if a["account_id"] not in self.org.customers]
        self._customer_accounts = [a for a in self.org.accounts
                                   if a["account_id"] in self.org.customers]
        self.anomalies = anomalies or Anomalies()
        self.counter = 0
        self.sent: list[bytes] = []
        self._followups: list[tuple[datetime, int, dict[str, Any]]] = []  # a heap
        self._reps_by: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._active: list[Prospect] = []
        self._seq = itertools.count()
        #: the rep who skips most call steps (a coaching case to find)
        self.call_skipper = next(r["rep_id"] for r in self.org.reps if r["role"] == "sdr")
        #: the SDR who moved from the second team to the first halfway through the history
        #: (set by `payloads`); their events before then carry the old team
        self.mover = self._pick_mover()
        self.move_at: datetime | None = None
        #: open enterprise deals (they outlive the window of recent deals `_advance` looks at)
        self._long_open: list[Opportunity] = []
        #: opportunities before this index have left the working window (see _advance)
        self._swept = 0
        for _ in range(len(self.org.accounts) * 2):
            self._new_prospect(inbound=False)

    # -- org dynamics -------------------------------------------------------------------
    def _rep(self, team_id: str, role: str) -> dict[str, str]:
        key = (team_id, role)
        if key not in self._reps_by:
            self._reps_by[key] = [r for r in self.org.reps
                                  if r["team_id"] == team_id and r["role"] == role]
        return self.rng.choice(self._reps_by[key])

    def _mark_customers(self) -> None:
        lines = list(PRODUCT_LINES)
        for account in self.org.accounts:
            if self._labels.random() < CUSTOMER_SHARE:
                owned = self._labels.sample(lines, k=self._labels.choice([1, 1, 2]))
                self.org.customers[account["account_id"]] = owned

    def _campaign_line(self) -> str:
        """The product line of a new campaign prospect or new-logo deal."""
        return self._labels.choices(list(PRODUCT_LINES), list(PRODUCT_LINES.values()))[0]

    def _new_prospect(self, inbound: bool) -> Prospect:
        account = self.rng.choice(self._prospect_accounts or self.org.accounts)
        prospect = Prospect(
            prospect_id=f"pros-{self.seed}-{len(self.org.prospects) + 1:05d}",
            account=account, sdr=self._rep(account["team_id"], "sdr"),
            cadence_id="inbound-fast" if inbound else "outbound-8",
            product_line=self._campaign_line(),
        )
        self.org.prospects.append(prospect)
        self._active.append(prospect)
        return prospect

    def _pick_mover(self) -> tuple[str, str, str] | None:
        """(rep id, old team, new team): the first team's last SDR came from the second."""
        if len(self.org.teams) < 2:
            return None
        sdrs = [r for r in self.org.reps if r["team_id"] == self.org.teams[0]
                and r["role"] == "sdr"]
        return (sdrs[-1]["rep_id"], self.org.teams[1], self.org.teams[0]) if sdrs else None

    def team_at(self, rep: dict[str, str], at: datetime) -> str:
        """The rep's team at `at` (the mover's old team before the move)."""
        if (self.mover and self.move_at and rep["rep_id"] == self.mover[0]
                and at < self.move_at):
            return self.mover[1]
        return rep["team_id"]

    def _base(self, at: datetime, kind: str, rep: dict[str, str], account: dict[str, str],
              **fields: Any) -> dict[str, Any]:
        self.counter += 1
        event = {
            "event_id": f"sim-{self.seed}-{self.counter:09d}", "tenant": self.org.tenant,
            "type": kind, "occurred_at": at.isoformat(), "source": "simulator",
            "rep_id": rep["rep_id"], "team_id": self.team_at(rep, at),
            "account_id": account["account_id"],
        }
        event.update({k: v for k, v in fields.items() if v is not None})
        return event

    def _touch(self, at: datetime, prospect: Prospect) -> list[dict[str, Any]]:
        steps = CADENCES[prospect.cadence_id]
        channel = steps[prospect.step]
        prospect.step += 1
        common = {"prospect_id": prospect.prospect_id, "cadence_id": prospect.cadence_id,
                  "cadence_step": prospect.step, "motion": "acquisition",
                  "product_line": prospect.product_line}
        rep, account = prospect.sdr, prospect.account
        out: list[dict[str, Any]] = []
        skip = channel == "call" and rep["rep_id"] == self.call_skipper and self.rng.random() < .7
        if skip:
            pass
        elif channel == "call":
            outcome = self.rng.choice(CALL_OUTCOMES)
            out.append(self._base(at, "call", rep, account, direction="outbound", outcome=outcome,
                                  duration_s=self.rng.randint(60, 900) if outcome == "connected"
                                  else self.rng.randint(0, 40), **common))
        else:
            out.append(self._base(at, "email", rep, account, action="sent", **common))
            self._email_followups(at, prospect, common)
        if prospect.step >= len(steps) or self.rng.random() < 0.12:
            prospect.done = True
            self._active.remove(prospect)
            disposition = self.rng.choice(DISPOSITIONS)
            out.append(self._base(at + timedelta(minutes=5), "disposition", rep, account,
                                  disposition=disposition, prospect_id=prospect.prospect_id,
                                  cadence_id=prospect.cadence_id, motion="acquisition",
                                  product_line=prospect.product_line))
            if disposition == "qualify":
                out.extend(self._open_opportunity(at + timedelta(hours=1), account,
                                                  "acquisition", prospect.product_line))
        return out

    def _email_followups(self, at: datetime, prospect: Prospect, common: dict) -> None:
        rep, account = prospect.sdr, prospect.account
        if self.rng.random() < 0.03:
            self._later(at + timedelta(minutes=1), "email", rep, account, action="bounced",
                        **common)
            return
        self._later(at + timedelta(seconds=30), "email", rep, account, action="delivered",
                    **common)
        if self.rng.random() < 0.4:
            self._later(at + timedelta(hours=self.rng.uniform(0.1, 20)), "email", rep, account,
                        action="opened", **common)
        if self.rng.random() < 0.06:
            self._later(at + timedelta(hours=self.rng.uniform(1, 40)), "email", rep, account,
                        action="replied", **common)
            self._later(at + timedelta(days=self.rng.uniform(1, 5)), "meeting", rep, account,
                        status=self.rng.choice(["held", "held", "no_show"]), **common)

    def _later(self, at: datetime, kind: str, rep: dict, account: dict, **fields: Any) -> None:
        self._defer(at, self._base(at, kind, rep, account, **fields))

    def _defer(self, at: datetime, event: dict[str, Any]) -> None:
        heapq.heappush(self._followups, (at, next(self._seq), event))

    def _open_opportunity(self, at: datetime, account: dict[str, str], motion: str,
                          product_line: str) -> list[dict[str, Any]]:
        ae = self._rep(account["team_id"], "ae")
        opp = Opportunity(f"opp-{self.seed}-{len(self.org.opportunities) + 1:05d}", account, ae,
                          entered=at, motion=motion, product_line=product_line)
        self.org.opportunities.append(opp)
        if account["segment"] == "enterprise":
            self._long_open.append(opp)
        return [self._stage_change(at, opp, None, "discovery")]

    def _stage_change(self, at: datetime, opp: Opportunity, from_stage: str | None,
                      to_stage: str) -> dict[str, Any]:
        """A stage change as the simulator sends it, or as a CRM deal's mapped change."""
        tags = {"opportunity_id": opp.opportunity_id, "motion": opp.motion,
                "product_line": opp.product_line}
        if not opp.crm:
            return self._base(at, "stage_change", opp.ae, opp.account, from_stage=from_stage,
                              to_stage=to_stage, **tags)
        event = self._base(at, "stage_change", opp.ae, opp.account, to_stage=to_stage,
                           vendor_stage=CRM_STAGE_NAMES[opp.crm][to_stage],
                           editor_id=self.org.managers[opp.ae["team_id"]], **tags)
        event["source"] = opp.crm
        if opp.crm == "salesforce":  # CDC carries IsClosed / IsWon
            event["is_closed"] = to_stage in ("won", "lost")
            event["is_won"] = to_stage == "won"
        return event

    def _customer_motion(self, account: dict[str, str]) -> tuple[str, str]:
        """Renewal of a line the customer has, or an upsell of one it has not (yet)."""
        owned = self.org.customers[account["account_id"]]
        if self._labels.random() < 0.45:
            return "retention", self._labels.choice(owned)
        others = [p for p in PRODUCT_LINES if p not in owned]
        return "upsell", self._labels.choice(others or owned)

    def _customer_work(self, at: datetime) -> list[dict[str, Any]]:
        """An AE's renewal or upsell touch on a customer account; now and then a new deal."""
        if not self._customer_accounts:
            return self._advance(at)
        account = self.rng.choice(self._customer_accounts)
        motion, line = self._customer_motion(account)
        roll = self.rng.random()
        if roll < 0.08:
            return self._open_opportunity(at, account, motion, line)
        ae = self._rep(account["team_id"], "ae")
        tags = {"motion": motion, "product_line": line}
        if roll < 0.55:
            outcome = self.rng.choice(CALL_OUTCOMES)
            return [self._base(at, "call", ae, account, direction="outbound", outcome=outcome,
                               duration_s=self.rng.randint(60, 1800) if outcome == "connected"
                               else self.rng.randint(0, 40), **tags)]
        if roll < 0.88:
            if self.rng.random() < 0.15:
                self._later(at + timedelta(hours=self.rng.uniform(1, 30)), "email", ae, account,
                            action="replied", **tags)
            return [self._base(at, "email", ae, account, action="sent", **tags)]
        return [self._base(at, "meeting", ae, account,
                           status=self.rng.choice(["held", "held", "no_show"]), **tags)]

    def _advance(self, at: datetime) -> list[dict[str, Any]]:
        stale = self._next_stale()
        if stale is not None:  # a rep cleaning up the pipeline: a deal nobody works is lost
            event = self._stage_change(at, stale, stale.stage, "lost")
            stale.stage, stale.entered = "lost", at
            return [event]
        recent = self.org.opportunities[-400:]
        open_opps = [o for o in recent if o.stage in STAGES]
        # enterprise deals take months: they keep moving after 400 newer deals opened
        self._long_open = [o for o in self._long_open if o.stage in STAGES]
        if len(self.org.opportunities) > len(recent):
            in_recent = {id(o) for o in recent}
            open_opps += [o for o in self._long_open if id(o) not in in_recent]
        if not open_opps:
            account = self.rng.choice(self.org.accounts)
            if account["account_id"] in self.org.customers:
                return self._open_opportunity(at, account, *self._customer_motion(account))
            return self._open_opportunity(at, account, "acquisition", self._campaign_line())
        opp = self.rng.choice(open_opps)
        mean_days = STAGE_DAYS[opp.account["segment"]]
        if opp.entered and (at - opp.entered).days < mean_days * self.rng.uniform(0.3, 1.2):
            return self._meeting(at, opp)
        idx = STAGES.index(opp.stage)
        nxt = "lost" if self.rng.random() < LOSS_RATE[opp.motion] else (
            STAGES[idx + 1] if idx + 1 < len(STAGES) else "won")
        if opp.crm and nxt not in CRM_STAGE_NAMES[opp.crm]:  # a stage the CRM does not have
            nxt = STAGES[idx + 2] if idx + 2 < len(STAGES) else "won"
        event = self._stage_change(at, opp, opp.stage, nxt)
        opp.stage, opp.entered = nxt, at
        return [event]

    def _next_stale(self) -> Opportunity | None:
        """An open deal that left the 400 worked ones (not a long enterprise deal), if any."""
        opportunities, long_open = self.org.opportunities, {id(o) for o in self._long_open}
        while len(opportunities) - self._swept > 400:
            opp = opportunities[self._swept]
            self._swept += 1
            if opp.stage in STAGES and id(opp) not in long_open:
                return opp
        return None

    def _meeting(self, at: datetime, opp: Opportunity) -> list[dict[str, Any]]:
        return [self._base(at, "meeting", opp.ae, opp.account, opportunity_id=opp.opportunity_id,
                           status=self.rng.choice(["scheduled", "held", "held", "cancelled"]),
                           motion=opp.motion, product_line=opp.product_line)]

    def _lead(self, at: datetime) -> list[dict[str, Any]]:
        prospect = self._new_prospect(inbound=True)
        event = self._base(at, "lead", prospect.sdr, prospect.account,
                           prospect_id=prospect.prospect_id, status="created",
                           motion="acquisition", product_line=prospect.product_line)
        delay = timedelta(minutes=self.rng.choice([2, 5, 12, 30, 45, 90, 240]))
        for e in self._touch(at + delay, prospect):
            self._defer(at + delay, e)
        return [event]

    def step(self, at: datetime) -> list[dict[str, Any]]:
        """The org's next activities at simulated time `at`."""
        due = []
        while self._followups and self._followups[0][0] <= at:
            due.append(heapq.heappop(self._followups)[2])
        if due:
            return due
        roll = self.rng.random()
        if roll < 0.05:
            return self._lead(at)
        if roll < 0.13:
            return self._advance(at)
        if roll < 0.21:
            return self._customer_work(at)
        if len(self._active) < len(self.org.accounts):
            self._new_prospect(inbound=False)
        return self._touch(at, self.rng.choice(self._active))

    # -- anomalies and output -----------------------------------------------------------
    def _malformed(self, event: dict[str, Any]) -> bytes:
        kind = self.rng.randrange(6)
        bad = dict(event)
        if kind == 0:
            return orjson.dumps(event)[:-7]  # truncated JSON
        if kind == 1:
            bad.pop("rep_id")
        elif kind == 2:
            bad["occurred_at"] = bad["occurred_at"][:19]  # naive timestamp
        elif kind == 3:
            bad["type"] = "fax"
        elif kind == 4:
            bad["cadence_step"] = "third"
        else:
            bad["account_id"] = ""
        return orjson.dumps(bad)

    def payloads(self, start: datetime, rate: float, history_days: float = 0.0,
                 live: bool = False, history_only: bool = False) -> Iterator[bytes]:
        """Event payloads (one JSON object each), in roughly event-time order.

        The clock starts `history_days` before `start` and moves about a minute per step
        through history; after that it is the wall clock (`live`) or advances 1/rate seconds
        per step, so a JSONL file is fully determined by seed, start and rate.
        `history_only` ends the payloads where the history ends.
        """
        a = self.anomalies
        clock = start - timedelta(days=history_days)
        history_end = start
        history_step = timedelta(seconds=60)
        self.move_at = move_date(start, history_days)
        while True:
            in_history = clock < history_end
            if history_only and not in_history:
                return
            if in_history:
                clock += history_step * self.rng.uniform(0.5, 1.5)
            elif live:
                clock = datetime.now(UTC)
            else:
                clock += timedelta(seconds=1 / max(rate, 1e-9))
            for event in self.step(clock):
                at = datetime.fromisoformat(event["occurred_at"])
                if at > clock + timedelta(seconds=1):
                    self._defer(at, event)  # emitted when its time comes
                    continue
                roll = self.rng.random()
                if roll < a.malformed:
                    yield self._malformed(event)
                    continue
                if roll < a.malformed + a.late:
                    event["occurred_at"] = (clock - timedelta(seconds=a.late_by_s)).isoformat()
                elif roll < a.malformed + a.late + a.out_of_order:
                    shift = timedelta(minutes=self.rng.uniform(5, 60))
                    event["occurred_at"] = (clock - shift).isoformat()
                payload = orjson.dumps(event)
                yield payload
                if self.rng.random() < a.duplicates:
                    self.sent.append(payload)
                if self.sent and self.rng.random() < a.duplicates:
                    yield self.sent.pop(self.rng.randrange(len(self.sent)))

    def dimension_rows(self) -> dict[str, list[dict[str, Any]]]:
        """Rows for the `reps` and `accounts` tables (managers and dormant accounts too)."""
        managers = [{"rep_id": m, "team_id": t, "role": "manager"}
                    for t, m in self.org.managers.items()]
        return {
            "reps": [dict(r, tenant=self.org.tenant, name=r["rep_id"])
                     for r in self.org.reps + managers],
            "accounts": [dict(a, tenant=self.org.tenant, name=a["account_id"],
                              owner_rep_id=self._owner(a))
                         for a in self.org.accounts + self.org.dormant],
        }

    def org_document(self, start: datetime, history_days: float) -> dict[str, Any]:
        """The simulated org as an org file (docs/org.md) for the same start and history."""
        domain = f"{self.org.tenant}.example"
        move = move_date(start, history_days)
        teams = [{"team_id": t, "name": t.removeprefix("team-").title(),
                  "manager_rep_id": m} for t, m in self.org.managers.items()]
        reps: list[dict[str, Any]] = []
        for t, m in self.org.managers.items():
            reps.append({"rep_id": m, "name": f"Manager {t.removeprefix('team-').title()}",
                         "email": f"{m}@{domain}", "role": "manager", "team_id": t,
                         "emails": [f"{m}@{domain}"]})
        for i, r in enumerate(self.org.reps):
            n = zlib.crc32(r["rep_id"].encode())
            entry: dict[str, Any] = {
                "rep_id": r["rep_id"], "name": r["rep_id"].replace("-", " ").title(),
                "email": f"{r['rep_id']}@{domain}", "role": r["role"], "team_id": r["team_id"],
                "manager_rep_id": self.org.managers[r["team_id"]],
                "salesforce_ids": [f"005SIM{n % 10**9:09d}"],
                "hubspot_owner_ids": [str(100_000 + i)],
                "hubspot_user_ids": [str(200_000 + i)],
                "emails": [f"{r['rep_id']}@{domain}"],
                "phones": [f"+1555{n % 10**7:07d}"],
            }
            if self.mover and r["rep_id"] == self.mover[0]:
                old = self.mover[1]
                reps.append({**entry, "team_id": old, "manager_rep_id": self.org.managers[old],
                             "active_to": move})
                entry["active_from"] = move
            reps.append(entry)
        accounts = []
        for a in self.org.accounts + self.org.dormant:
            n = zlib.crc32(a["account_id"].encode())
            accounts.append({
                "account_id": a["account_id"], "name": a["account_id"].upper(),
                "owner_rep_id": self._owner(a), "team_id": a["team_id"], "tier": a["tier"],
                "segment": a["segment"],
                "industry": ["software", "retail", "finance", "health"][n % 4],
                "domains": [f"{a['account_id']}.example"],
                "salesforce_ids": [f"001SIM{n % 10**9:09d}"],
                "hubspot_company_ids": [str(n % 10**9)]})
        return {"tenant": self.org.tenant, "teams": teams, "reps": reps, "accounts": accounts}

    def _owner(self, account: dict[str, str]) -> str:
        aes = [r for r in self.org.reps if r["team_id"] == account["team_id"] and r["role"] == "ae"]
        return aes[zlib.crc32(account["account_id"].encode()) % len(aes)]["rep_id"] if aes else ""
