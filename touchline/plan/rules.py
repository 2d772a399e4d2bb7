"""The coaching rules as their readers call them: one parameterized view per rule.

Each rule is defined once, in sinks/ddl/0013_rules.sql, with its thresholds read from the
plan in force. This module names them: which view holds a rule and which columns identify the
entity it fires for (a deal, an account, a rep and cadence, ...). The signal evaluator, the
alert rules (dashboards/queries.py), the digest and the 1:1 view select from the same views.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from touchline.sinks.clickhouse import ClickHouseSink


@dataclass(frozen=True)
class Rule:
    """One coaching rule: its signal kind, its view and the columns naming what it fires for."""

    kind: str
    view: str
    entity: tuple[str, ...]
    title: str
    #: judged on every Coach pass: its clock runs in minutes (a tier's speed-to-lead SLA may be
    #: 5m). The other rules judge days; they take turns, one of them per pass (`judged_on_pass`)
    every_pass: bool = False


RULES: tuple[Rule, ...] = (
    Rule("stuck_deal", "rule_stuck_deals", ("opportunity_id",), "Deal past its stage SLA"),
    Rule("deal_inactive", "rule_inactive_deals", ("opportunity_id",),
         "Deal with no activity"),
    Rule("untouched_account", "rule_untouched_accounts", ("account_id",),
         "Account untouched past its tier's limit"),
    Rule("cadence_behind", "rule_cadences_behind", ("rep_id", "cadence_id"),
         "Rep behind on a cadence"),
    Rule("lead_sla", "rule_leads_over_sla", ("prospect_id",),
         "New lead not touched within SLA", every_pass=True),
    Rule("activity_mix", "rule_activity_mix", ("rep_id", "activity"),
         "High-impact activity below plan"),
    Rule("idle_rep", "rule_idle_reps", ("rep_id",), "Rep with no activity"),
)
KINDS = tuple(r.kind for r in RULES)
#: the tenant argument that reads every tenant's rows
ALL_TENANTS = ""
BY_KIND = {r.kind: r for r in RULES}
#: the rules that take turns, one per Coach pass
IN_TURN = tuple(r for r in RULES if not r.every_pass)


def judged_on_pass(number: int) -> tuple[Rule, ...]:
    """The rules the leader's Coach pass number `number` (0, 1, ...) judges.

    Every pass judges the rules whose clocks run in minutes and one of the others in turn, so
    each of those is judged every `len(IN_TURN)` passes (6: 3 min at the default 30 s). A whole
    pass judging every rule took a planned org's store ~2 s of wall time and ~3 s of CPU every
    30 s (2,000 reps, 100M activities) and slowed the live inserts while it ran; its rules
    judge deals sitting for days, accounts untouched for a week, a week's activity mix.
    """
    turn = IN_TURN[number % len(IN_TURN)]
    return tuple(r for r in RULES if r.every_pass or r == turn)


def rows(sink: ClickHouseSink, view: str, tenant: str, now: dt.datetime,
         order_by: str = "", **more: str) -> list[dict[str, Any]]:
    """Every row of a rule (or base) view for one tenant ('' for all) at `now`.

    Args:
        sink: the sink.
        view: the view name.
        tenant: the tenant ('' for all).
        now: the moment judged.
        order_by: an ORDER BY clause's body, if any.
        **more: further String arguments of the view (cadence_progress takes `rep`).
    """
    args = "".join(f"{k} = {{{k}:String}}, " for k in more)
    sql = (f"SELECT * FROM {sink.database}.{view}(tenant = {{tenant:String}}, {args}"
           f"now = {{now:DateTime64(3, 'UTC')}})")
    if order_by:
        sql += f" ORDER BY {order_by}"
    return sink.query(sql, {"tenant": tenant, "now": now, **more}).dicts()


def entities(rule: Rule, found: list[dict[str, Any]]) -> set[tuple[str, ...]]:
    """The (tenant, *entity) keys of a rule's rows."""
    return {(r["tenant"], *(str(r[c]) for c in rule.entity)) for r in found}
