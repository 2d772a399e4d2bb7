"""Coach: turn plan-vs-actual into signals that name a person, an activity and the evidence.

`evaluate(sink, now)` reads ClickHouse and returns the conditions firing at `now`, one `Signal`
per condition with a stable `signal_id` (the same condition gives the same id on every run).
`reconcile(sink, signals, now)` writes only what changed: a new condition is inserted as
`firing`, an unchanged one is left alone, one whose evidence changed gets a refreshed row
(same `fired_at`), and one that cleared gets a `resolved` version. No duplicates, no storms.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from touchline.plan import queries as q
from touchline.schemas.plan import PERCENT_ACTIVITIES, format_duration
from touchline.sinks.clickhouse import ClickHouseSink

KINDS = ("stuck_deal", "untouched_account", "cadence_behind", "lead_sla", "activity_mix")
WEEK_S = 7 * 86_400
#: leads older than this are history, not a live signal
LEAD_LOOKBACK_S = 30 * 86_400

_ACTIVITY_WORDS = {
    "call_attempts": "call attempts",
    "connected_calls": "connected calls",
    "emails_sent": "emails sent",
    "meetings_held": "meetings held",
    "leads_touched_within_sla": "new leads touched within SLA",
}
_CHANNEL_WORDS = {"call": "a call", "email": "an email", "meeting": "a meeting"}


@dataclass(frozen=True)
class Signal:
    """One coaching condition: who, what to change, and why."""

    tenant: str
    signal_id: str
    kind: str
    rep_id: str
    team_id: str
    subject_type: str
    subject_id: str
    activity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict, compare=False)
    status: str = "firing"
    #: what must change for a firing signal to be rewritten (default: the message); elapsed
    #: times grow on every run and are left out, so a waiting lead is not rewritten each pass
    fingerprint: str = ""

    def key(self) -> str:
        """The fingerprint, or the message when there is none."""
        return self.fingerprint or self.message

    def evidence_json(self) -> str:
        """The evidence as sorted JSON (what the `evidence` column stores)."""
        return json.dumps({**self.evidence, "fingerprint": self.key()}, sort_keys=True,
                          default=str)


@dataclass(frozen=True)
class PlanInForce:
    """The plan-wide settings of the version in force at some moment."""

    tenant: str
    plan_version: str
    effective_from: dt.datetime
    closed_stages: list[str]
    default_segment: str
    default_tier: str
    default_role: str
    cadence_behind_steps: int
    cadence_behind_min_prospects: int
    cadence_grace_s: int
    activity_mix_min_ratio: float
    activity_mix_min_elapsed_s: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PlanInForce:
        """Build from a `plan_versions` row."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in row.items() if k in names})


def utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC datetime (the engine returns naive UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def plan_in_force(sink: ClickHouseSink, tenant: str, at: dt.datetime) -> PlanInForce | None:
    """The plan version in force for `tenant` at `at` (None before the first plan)."""
    rows = sink.query(q.sql(sink, q.PLAN_IN_FORCE), {"tenant": tenant, "at": utc(at)}).dicts()
    return PlanInForce.from_row(rows[0]) if rows else None


def planned_tenants(sink: ClickHouseSink, now: dt.datetime) -> list[str]:
    """Tenants with a plan in force at `now`."""
    return [r[0] for r in sink.query(q.sql(sink, q.PLANNED_TENANTS), {"now": utc(now)}).rows]


def evaluate(sink: ClickHouseSink, now: dt.datetime | None = None,
             tenants: list[str] | None = None) -> list[Signal]:
    """Every condition firing at `now`, for each tenant with a plan in force."""
    now = utc(now or dt.datetime.now(dt.UTC))
    out: list[Signal] = []
    for tenant in tenants if tenants is not None else planned_tenants(sink, now):
        plan = plan_in_force(sink, tenant, now)
        if plan is None:
            continue
        out += stuck_deals(sink, plan, now)
        out += untouched_accounts(sink, plan, now)
        out += cadences_behind(sink, plan, now)
        out += leads_over_sla(sink, plan, now)
        out += activity_mix(sink, tenant, now)
    return out


def _params(plan: PlanInForce, now: dt.datetime, **more: Any) -> dict[str, Any]:
    return {"tenant": plan.tenant, "plan_version": plan.plan_version, "now": now,
            "default_segment": plan.default_segment, "default_tier": plan.default_tier,
            **more}


def _days(seconds: float) -> str:
    return format_duration(seconds) if seconds < 86_400 else f"{seconds / 86_400:.0f}d"


def stuck_deals(sink: ClickHouseSink, plan: PlanInForce, now: dt.datetime) -> list[Signal]:
    """Open deals whose dwell in the current stage exceeds the stage SLA of their segment."""
    rows = sink.query(q.sql(sink, q.STUCK_DEALS),
                      _params(plan, now, closed=plan.closed_stages)).dicts()
    out = []
    for r in rows:
        entered = utc(r["entered_at"])
        out.append(Signal(
            tenant=plan.tenant,
            signal_id=f"stuck_deal:{r['opportunity_id']}:{r['stage']}:{entered:%Y%m%dT%H%M%S}",
            kind="stuck_deal", rep_id=r["rep_id"], team_id=r["team_id"],
            subject_type="opportunity", subject_id=r["opportunity_id"],
            activity="advance_deal",
            message=(f"Rep {r['rep_id']}: deal {r['opportunity_id']} ({r['segment']}) has sat in "
                     f"{r['stage']} for {_days(r['dwell_s'])}, past the {_days(r['sla_s'])} "
                     f"{r['segment']} SLA; book a dated next step with the buyer or close it."),
            evidence={"stage": r["stage"], "segment": r["segment"], "dwell_s": r["dwell_s"],
                      "sla_s": r["sla_s"], "entered_at": entered.isoformat(),
                      "account_id": r["account_id"], "plan_version": plan.plan_version},
            fingerprint=f"{r['segment']}:{r['sla_s']}:{r['rep_id']}",
        ))
    return out


def untouched_accounts(sink: ClickHouseSink, plan: PlanInForce,
                       now: dt.datetime) -> list[Signal]:
    """Accounts untouched for longer than their tier's threshold."""
    rows = sink.query(q.sql(sink, q.UNTOUCHED_ACCOUNTS), _params(plan, now)).dicts()
    out = []
    for r in rows:
        last = utc(r["last_touch_at"]) if r["touches"] else None
        since = f"last touch {r['last_channel']} on {last:%Y-%m-%d}" if last else "never touched"
        if r["untouched_s"] is None:  # in the book, no activity at all
            age = "has no activity on record"
        else:
            age = f"has had no touch for {_days(r['untouched_s'])}"
        out.append(Signal(
            tenant=plan.tenant,
            signal_id=f"untouched_account:{r['account_id']}:"
                      + (f"{last:%Y%m%dT%H%M%S}" if last else "never"),
            kind="untouched_account", rep_id=r["rep_id"], team_id=r["team_id"],
            subject_type="account", subject_id=r["account_id"], activity="touch_account",
            message=(f"Rep {r['rep_id']}: tier {r['tier']} account {r['account_id']} {age} "
                     f"(tier {r['tier']} limit "
                     f"{_days(r['threshold_s'])}; {since}); call or email a contact there."),
            evidence={"tier": r["tier"], "untouched_s": r["untouched_s"],
                      "threshold_s": r["threshold_s"],
                      "last_touch_at": last.isoformat() if last else None,
                      "plan_version": plan.plan_version},
            fingerprint=f"{r['tier']}:{r['threshold_s']}:{r['rep_id']}",
        ))
    return out


def _steps_word(n: int) -> str:
    return {1: "one step", 2: "two steps", 3: "three steps"}.get(n, f"{n} steps")


def cadences_behind(sink: ClickHouseSink, plan: PlanInForce, now: dt.datetime) -> list[Signal]:
    """Per rep and cadence: enough prospects behind the planned step to coach on."""
    params = _params(plan, now, grace_s=plan.cadence_grace_s, behind=plan.cadence_behind_steps,
                     min_prospects=plan.cadence_behind_min_prospects)
    rows = sink.query(q.sql(sink, q.CADENCE_BEHIND), params).dicts()
    out = []
    for r in rows:
        steps = plan.cadence_behind_steps
        next_words = _CHANNEL_WORDS.get(r["next_channel"], r["next_channel"] or "the next touch")
        skipping = (f"; {r['skipping_calls']} of them skipped a call step"
                    if r["skipping_calls"] else "")
        out.append(Signal(
            tenant=plan.tenant, signal_id=f"cadence_behind:{r['rep_id']}:{r['cadence_id']}",
            kind="cadence_behind", rep_id=r["rep_id"], team_id=r["team_id"],
            subject_type="cadence", subject_id=r["cadence_id"],
            activity=f"cadence_step_{r['next_channel'] or 'touch'}",
            message=(f"Rep {r['rep_id']}: {r['behind']} of {r['active']} prospects in cadence "
                     f"{r['cadence_id']} are {_steps_word(steps)} or more behind; next step is "
                     f"{next_words}{skipping}."),
            evidence={"behind": r["behind"], "active": r["active"], "worst": r["worst"],
                      "threshold_steps": steps, "next_channel": r["next_channel"],
                      "skipping_calls": r["skipping_calls"], "plan_version": plan.plan_version},
        ))
    return out


def leads_over_sla(sink: ClickHouseSink, plan: PlanInForce, now: dt.datetime) -> list[Signal]:
    """New leads still untouched past their tier's speed-to-lead SLA."""
    rows = sink.query(q.sql(sink, q.LEADS_OVER_SLA),
                      _params(plan, now, lookback_s=LEAD_LOOKBACK_S)).dicts()
    out = []
    for r in rows:
        out.append(Signal(
            tenant=plan.tenant, signal_id=f"lead_sla:{r['prospect_id']}",
            kind="lead_sla", rep_id=r["rep_id"], team_id=r["team_id"],
            subject_type="prospect", subject_id=r["prospect_id"], activity="call_new_lead",
            message=(f"Rep {r['rep_id']}: new lead {r['prospect_id']} (tier {r['tier']}) has "
                     f"waited {format_duration(r['waiting_s'])} without a touch, past the "
                     f"{format_duration(r['sla_s'])} speed-to-lead SLA; call it now."),
            evidence={"lead_at": utc(r["lead_at"]).isoformat(), "waiting_s": r["waiting_s"],
                      "sla_s": r["sla_s"], "tier": r["tier"], "account_id": r["account_id"],
                      "plan_version": plan.plan_version},
            fingerprint=f"{r['tier']}:{r['sla_s']}:{r['rep_id']}",
        ))
    return out


def prorated_targets(periods: list[tuple[dt.datetime, str]],
                     targets: dict[str, dict[str, dict[str, int]]], role: str,
                     start: dt.datetime, end: dt.datetime) -> dict[str, tuple[float, list[str]]]:
    """What the plan asked of `role` between start and end, each version for its own time.

    Args:
        periods: (effective_from, plan_version), sorted by effective_from.
        targets: plan_version -> role -> activity -> weekly target.
        role: the rep's role.
        start: window start.
        end: window end.

    Returns:
        activity -> (planned count, or the time-weighted percentage for percent targets;
        the pieces in words, e.g. ["200/week for 3.5d under v1"]).
    """
    sums: dict[str, float] = {}
    weights: dict[str, float] = {}
    words: dict[str, list[str]] = {}
    for i, (effective_from, version) in enumerate(periods):
        until = periods[i + 1][0] if i + 1 < len(periods) else end
        seconds = (min(end, until) - max(start, effective_from)).total_seconds()
        if seconds <= 0:
            continue
        for activity, weekly in targets.get(version, {}).get(role, {}).items():
            sums[activity] = sums.get(activity, 0.0) + weekly * seconds
            weights[activity] = weights.get(activity, 0.0) + seconds
            words.setdefault(activity, []).append(
                f"{weekly}/week for {seconds / 86_400:.1f}d under {version}")
    out = {}
    for activity, total in sums.items():
        if activity in PERCENT_ACTIVITIES:
            out[activity] = (total / weights[activity], words[activity])
        else:
            out[activity] = (total / WEEK_S, words[activity])
    return out


def activity_mix(sink: ClickHouseSink, tenant: str, now: dt.datetime) -> list[Signal]:
    """Reps whose high-impact activities over the last 7 days trail the plan.

    The target is pro-rated over the plan versions in force during those 7 days, so a plan
    change only counts from its effective date.
    """
    plan = plan_in_force(sink, tenant, now)
    if plan is None:
        return []
    periods = [(utc(r[0]), r[1]) for r in sink.query(q.sql(sink, q.PLAN_PERIODS),
                                                     {"tenant": tenant, "now": now}).rows]
    start = max(now - dt.timedelta(seconds=WEEK_S), periods[0][0])
    if (now - start).total_seconds() < plan.activity_mix_min_elapsed_s:
        return []
    base = {"tenant": tenant, "plan_version": plan.plan_version, "now": now,
            "since": start, "default_tier": plan.default_tier}
    actuals = sink.query(q.sql(sink, q.REP_WINDOW_ACTUALS), base).dicts()
    leads = {r["rep_id"]: r for r in sink.query(q.sql(sink, q.REP_WINDOW_LEADS), base).dicts()}
    org = {r[0]: (r[1], r[2]) for r in sink.query(q.sql(sink, q.REP_ROLES),
                                                  {"tenant": tenant, "now": now}).rows}
    targets: dict[str, dict[str, dict[str, int]]] = {}
    for version, role, activity, target in sink.query(q.sql(sink, q.TARGETS), base).rows:
        targets.setdefault(version, {}).setdefault(role, {})[activity] = target
    days = (now - start).total_seconds() / 86_400
    window = "the last 7 days" if days >= 6.99 else f"the last {days:.1f} days"
    out = []
    for rep in actuals:
        # the org's role and team in force now; the plan's default role only for unknown reps
        role, team_id = org.get(rep["rep_id"], ("", ""))
        role = role or plan.default_role
        rep = {**rep, "team_id": team_id or rep["team_id"]}
        planned_by = prorated_targets(periods, targets, role, start, now)
        ratios: dict[str, float] = {}
        shortfalls = []
        for activity, (planned, pieces) in sorted(planned_by.items()):
            if activity in PERCENT_ACTIVITIES:
                lead = leads.get(rep["rep_id"])
                if not lead or not lead["leads"] or planned <= 0:
                    continue
                actual = round(100 * lead["in_time"] / lead["leads"])
            else:
                actual = rep[activity]
                if planned < 1:
                    continue
            ratios[activity] = actual / planned
            if ratios[activity] < plan.activity_mix_min_ratio:
                shortfalls.append((activity, actual, planned, pieces))
        for activity, actual, planned, pieces in shortfalls:
            words = _ACTIVITY_WORDS[activity]
            basis = "; ".join(pieces) if len(pieces) > 1 else pieces[0].split(" for ")[0]
            if activity in PERCENT_ACTIVITIES:
                what = f"{actual}% of {words} in {window} vs {planned:.0f}% planned"
            else:
                what = (f"{actual} {words} in {window} vs {planned:.0f} planned "
                        f"({basis}, {role})")
            ahead = [f"{_ACTIVITY_WORDS[a]} at {ratio:.0%}" for a, ratio in sorted(ratios.items())
                     if ratio >= 1 and a != activity]
            mix = f"; {', '.join(ahead)} of plan" if ahead else ""
            out.append(Signal(
                tenant=tenant, signal_id=f"activity_mix:{rep['rep_id']}:{activity}",
                kind="activity_mix", rep_id=rep["rep_id"], team_id=rep["team_id"],
                subject_type="rep", subject_id=rep["rep_id"], activity=activity,
                message=f"Rep {rep['rep_id']}: {what}{mix}; move time to {words}.",
                evidence={"activity": activity, "actual": actual, "planned": round(planned, 1),
                          "window_start": start.isoformat(), "role": role, "pieces": pieces,
                          "ratios": {a: round(x, 3) for a, x in ratios.items()},
                          "plan_version": plan.plan_version},
                # rewritten when the shortfall moves by a tenth of plan, not on every event
                fingerprint=f"{role}:{int(10 * actual / planned)}",
            ))
        share = share_shortfall(rep, planned_by, plan.activity_mix_min_ratio)
        if share and share[0] not in {s[0] for s in shortfalls}:
            activity, actual_share, planned_share = share
            other = "emails_sent" if activity == "call_attempts" else "call_attempts"
            words = _ACTIVITY_WORDS[activity]
            out.append(Signal(
                tenant=tenant, signal_id=f"activity_mix:{rep['rep_id']}:{activity}",
                kind="activity_mix", rep_id=rep["rep_id"], team_id=rep["team_id"],
                subject_type="rep", subject_id=rep["rep_id"], activity=activity,
                message=(f"Rep {rep['rep_id']}: {words} are {actual_share:.0%} of calls and "
                         f"emails in {window} vs {planned_share:.0%} planned "
                         f"({rep['call_attempts']} calls, {rep['emails_sent']} emails); move "
                         f"time from {_ACTIVITY_WORDS[other]} to {words}."),
                evidence={"activity": activity, "actual_share": round(actual_share, 3),
                          "planned_share": round(planned_share, 3),
                          "call_attempts": rep["call_attempts"],
                          "emails_sent": rep["emails_sent"], "role": role,
                          "window_start": start.isoformat(), "plan_version": plan.plan_version},
                fingerprint=f"{role}:share:{int(10 * actual_share / planned_share)}",
            ))
    return out


def share_shortfall(actual: dict[str, Any], planned: dict[str, tuple[float, list[str]]],
                    min_ratio: float) -> tuple[str, float, float] | None:
    """The channel whose share of calls + emails trails the plan's share, if any.

    A rep can beat every weekly count and still skip calls: 220 calls and 900 emails against a
    plan of 200 and 150 is 20% calls where the plan asks for 57%.

    Returns:
        (activity, its actual share, its planned share), or None when the mix is on plan.
    """
    if "call_attempts" not in planned or "emails_sent" not in planned:
        return None
    p_calls, p_emails = planned["call_attempts"][0], planned["emails_sent"][0]
    a_calls, a_emails = actual["call_attempts"], actual["emails_sent"]
    if p_calls < 1 or p_emails < 1 or a_calls + a_emails == 0:
        return None
    plan_share = p_calls / (p_calls + p_emails)
    call_share = a_calls / (a_calls + a_emails)
    if call_share / plan_share < min_ratio:
        return "call_attempts", call_share, plan_share
    if (1 - call_share) / (1 - plan_share) < min_ratio:
        return "emails_sent", 1 - call_share, 1 - plan_share
    return None


# --- reconcile -------------------------------------------------------------------------------

_SIGNAL_SCHEMA = pa.schema([
    ("tenant", pa.string()), ("signal_id", pa.string()), ("kind", pa.string()),
    ("status", pa.string()), ("team_id", pa.string()), ("rep_id", pa.string()),
    ("subject_type", pa.string()), ("subject_id", pa.string()), ("activity", pa.string()),
    ("message", pa.string()), ("evidence", pa.string()),
    ("fired_at", pa.timestamp("ms", tz="UTC")), ("resolved_at", pa.timestamp("ms", tz="UTC")),
    ("version", pa.uint64()),
])


@dataclass
class ReconcileResult:
    """What one reconcile pass wrote."""

    fired: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    unchanged: int = 0

    def __str__(self) -> str:
        return (f"{len(self.fired)} fired, {len(self.refreshed)} refreshed, "
                f"{len(self.resolved)} resolved, {self.unchanged} unchanged")


def current_signals(sink: ClickHouseSink, tenants: list[str]) -> dict[tuple[str, str], dict]:
    """The latest row of every signal of `tenants`, keyed by (tenant, signal_id)."""
    if not tenants:
        return {}
    rows = sink.query(q.sql(sink, q.CURRENT_SIGNALS), {"tenants": tenants}).dicts()
    return {(r["tenant"], r["signal_id"]): r for r in rows}


def reconcile(sink: ClickHouseSink, signals: list[Signal], now: dt.datetime | None = None,
              tenants: list[str] | None = None) -> ReconcileResult:
    """Write the difference between `signals` (firing now) and what `signals` holds.

    Args:
        sink: the ClickHouse sink.
        signals: every condition firing now (the output of `evaluate`).
        now: the evaluation time (fired_at / resolved_at of the rows written).
        tenants: the tenants that were evaluated (default: the signals' tenants plus every
            tenant with a plan in force); firing signals of these tenants that are not in
            `signals` are resolved.
    """
    now = utc(now or dt.datetime.now(dt.UTC))
    if tenants is None:
        tenants = sorted({s.tenant for s in signals} | set(planned_tenants(sink, now)))
    previous = current_signals(sink, tenants)
    now_us = int(now.timestamp() * 1_000_000)
    result = ReconcileResult()
    rows: list[dict[str, Any]] = []
    firing_keys = set()
    for sig in {(s.tenant, s.signal_id): s for s in signals}.values():
        key = (sig.tenant, sig.signal_id)
        firing_keys.add(key)
        prev = previous.get(key)
        if prev and prev["status"] == "firing":
            if _fingerprint(prev) == sig.key():
                result.unchanged += 1
                continue
            result.refreshed.append(sig.signal_id)
            rows.append(_row(sig, utc(prev["fired_at"]), None, max(now_us, prev["version"] + 1)))
        else:
            result.fired.append(sig.signal_id)
            version = max(now_us, prev["version"] + 1) if prev else now_us
            rows.append(_row(sig, now, None, version))
    for key, prev in previous.items():
        if prev["status"] == "firing" and key not in firing_keys and key[0] in tenants:
            result.resolved.append(key[1])
            old = Signal(tenant=prev["tenant"], signal_id=prev["signal_id"], kind=prev["kind"],
                         rep_id=prev["rep_id"], team_id=prev["team_id"],
                         subject_type=prev["subject_type"], subject_id=prev["subject_id"],
                         activity=prev["activity"], message=prev["message"], status="resolved")
            row = _row(old, utc(prev["fired_at"]), now, max(now_us, prev["version"] + 1))
            row["evidence"] = prev["evidence"]
            rows.append(row)
    if rows:
        sink.insert("signals", pa.Table.from_pylist(rows, schema=_SIGNAL_SCHEMA))
    return result


def _fingerprint(row: dict[str, Any]) -> str:
    try:
        return str(json.loads(row["evidence"]).get("fingerprint", row["message"]))
    except (ValueError, AttributeError):
        return row["message"]


def _row(sig: Signal, fired_at: dt.datetime, resolved_at: dt.datetime | None,
         version: int) -> dict[str, Any]:
    return {"tenant": sig.tenant, "signal_id": sig.signal_id, "kind": sig.kind,
            "status": sig.status, "team_id": sig.team_id, "rep_id": sig.rep_id,
            "subject_type": sig.subject_type, "subject_id": sig.subject_id,
            "activity": sig.activity, "message": sig.message, "evidence": sig.evidence_json(),
            "fired_at": fired_at, "resolved_at": resolved_at, "version": version}


def evaluate_and_reconcile(sink: ClickHouseSink,
                           now: dt.datetime | None = None) -> ReconcileResult:
    """One Coach pass: evaluate every planned tenant at `now` and write the changes."""
    now = utc(now or dt.datetime.now(dt.UTC))
    tenants = planned_tenants(sink, now)
    return reconcile(sink, evaluate(sink, now, tenants), now, tenants)


