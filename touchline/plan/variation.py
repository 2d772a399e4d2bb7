"""Inspect: spread of one activity rate between reps, teams, product lines or segments, per motion.

The counts come from the `motion_week_variation` view (sinks/ddl/0009), summed over whole ISO
weeks. Each group's rate (e.g. meetings held per 100 touches) carries a 95% Wilson interval.
The group is compared with the rest of its peers: for a rep, the other reps of the same role in
the same team (SDRs with SDRs); for any other group, all the other groups. A group is flagged
`below` or `above` when its interval and its peers' interval do not overlap. A plain "rate
outside the team's interval" test would flag most reps once a team has a few hundred touches,
so the report uses the overlap test.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from touchline.plan.stats import Proportion, clearly_different, wilson
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.terminal_table import align

MOTIONS = ("acquisition", "retention", "upsell", "unspecified")
BY = ("rep", "team", "product_line", "segment")


@dataclass(frozen=True)
class Activity:
    """A rate: `hits` per 100 `base`, both columns of the view."""

    hits: str
    base: str
    label: str


ACTIVITIES = {
    "meetings_held": Activity("meetings_held", "touches", "meetings held per 100 touches"),
    "connected_calls": Activity("connected_calls", "call_attempts",
                                "connected calls per 100 call attempts"),
    "replies": Activity("email_replies", "emails_sent", "email replies per 100 emails sent"),
    "won": Activity("opportunities_won", "opportunities_closed",
                    "deals won per 100 closed (win rate)"),
}
_COUNTS = ("touches", "call_attempts", "connected_calls", "emails_sent", "meetings_held",
           "email_replies", "opportunities_won", "opportunities_lost")

COUNTS_SQL = f"""
SELECT motion, product_line, team_id, rep_id, segment,
       {", ".join(f"sum({c}) AS {c}" for c in _COUNTS)}
FROM {{db}}.motion_week_variation
WHERE tenant = {{tenant:String}} AND week_start >= {{since:DateTime64(3, 'UTC')}}
  AND ({{motion:String}} = '' OR motion = {{motion:String}})
  AND ({{product_line:String}} = '' OR product_line = {{product_line:String}})
  AND ({{team:String}} = '' OR team_id = {{team:String}})
GROUP BY motion, product_line, team_id, rep_id, segment
ORDER BY motion, product_line, team_id, rep_id, segment
"""


ROLES_SQL = """
SELECT rep_id, role FROM {db}.rep_at(tenant = {tenant:String}, now = now64(3, 'UTC'))
"""


@dataclass(frozen=True)
class GroupRate:
    """One group's rate, its peers' rate, and whether the two clearly differ."""

    motion: str
    group: str
    team: str
    rate: Proportion
    peers: Proportion
    #: a rep's role: their peers are the reps of the same role in their team
    role: str = ""

    @property
    def flag(self) -> str:
        """'below' / 'above' the peers when the intervals do not overlap, else ''."""
        if not clearly_different(self.rate, self.peers):
            return ""
        return "below" if self.rate.high < self.peers.low else "above"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly row."""
        return {
            "motion": self.motion, "group": self.group, "team": self.team, "role": self.role,
            "hits": self.rate.hits, "n": self.rate.n, "rate": round(self.rate.rate, 4),
            "low": round(self.rate.low, 4), "high": round(self.rate.high, 4),
            "peers_hits": self.peers.hits, "peers_n": self.peers.n,
            "peers_rate": round(self.peers.rate, 4), "peers_low": round(self.peers.low, 4),
            "peers_high": round(self.peers.high, 4), "flag": self.flag,
        }


def first_week(weeks: int, now: dt.datetime) -> dt.datetime:
    """Monday 00:00 UTC of the first of the last `weeks` ISO weeks (this week included)."""
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=today.weekday(), weeks=weeks - 1)


def counts(sink: ClickHouseSink, tenant: str, since: dt.datetime, motion: str = "",
           product_line: str = "", team: str = "") -> list[dict[str, Any]]:
    """Summed counts per motion, product line, team, rep and segment since `since`."""
    return sink.query(COUNTS_SQL.replace("{db}", sink.database), {
        "tenant": tenant, "since": since, "motion": motion, "product_line": product_line,
        "team": team}).dicts()


def rep_roles(sink: ClickHouseSink, tenant: str) -> dict[str, str]:
    """Each rep's role now: the org period in force, else the `reps` row (view rep_at)."""
    return dict(sink.query(ROLES_SQL.replace("{db}", sink.database), {"tenant": tenant}).rows)


def _proportion(hits: int, n: int) -> Proportion:
    # replies or wins counted in the window can belong to a base counted before it
    return wilson(min(hits, n), n)


def spread(rows: list[dict[str, Any]], by: str, activity: str,
           roles: dict[str, str] | None = None) -> list[GroupRate]:
    """Each motion's groups with their rate and their peers' rate, ordered by motion, group.

    A rep's peers are the other reps of the same role in the same team (SDRs with SDRs, AEs
    with AEs: an AE's meetings per touch say nothing about an SDR's); `roles` maps rep to role.
    """
    metric = ACTIVITIES[activity]
    roles = roles or {}
    totals: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        base = (r["opportunities_won"] + r["opportunities_lost"]
                if metric.base == "opportunities_closed" else r[metric.base])
        group = r["team_id"] if by == "team" else r["rep_id"] if by == "rep" else r[by]
        team = r["team_id"] if by == "rep" else ""
        role = roles.get(r["rep_id"], "") if by == "rep" else ""
        total = totals[(r["motion"], team, role, group)]
        total[0] += r[metric.hits]
        total[1] += base
    out = []
    for (motion, team, role, group), (hits, n) in sorted(
            totals.items(),
            key=lambda kv: (_motion_order(kv[0][0]), kv[0][1], kv[0][2], kv[0][3])):
        peer_hits = peer_n = 0
        for (m, t, ro, g), (h, k) in totals.items():
            if m == motion and t == team and ro == role and g != group:
                peer_hits, peer_n = peer_hits + h, peer_n + k
        out.append(GroupRate(motion, group, team, _proportion(hits, n),
                             _proportion(peer_hits, peer_n), role))
    return [g for g in out if g.rate.n or g.peers.n]


def _motion_order(motion: str) -> tuple[int, str]:
    return (MOTIONS.index(motion) if motion in MOTIONS else len(MOTIONS), motion)


def _pct(p: Proportion) -> str:
    if not p.n:
        return "-"
    return f"{100 * p.rate:.1f} [{100 * p.low:.1f}, {100 * p.high:.1f}]"


def format_table(groups: list[GroupRate], by: str, activity: str) -> str:
    """Per motion: group, hits/n, rate per 100 with its interval, peers' rate, flag."""
    metric = ACTIVITIES[activity]
    peers = "same role in team" if by == "rep" else f"other {by.replace('_', ' ')}s"
    header = [*(("team", "role", "rep") if by == "rep" else (by,)), metric.base, metric.hits,
              "per 100 [95% CI]", f"{peers} [95% CI]", "flag"]
    lines: list[str] = []
    for motion in dict.fromkeys(g.motion for g in groups):
        body = [[*((g.team, g.role or "-", g.group) if by == "rep" else (g.group,)),
                 str(g.rate.n),
                 str(g.rate.hits), _pct(g.rate), _pct(g.peers), g.flag]
                for g in groups if g.motion == motion]
        lines += ["", f"{motion}:", *align(body, header)]
    if not groups:
        lines.append(f"(no {metric.base.replace('_', ' ')} in this period)")
    return "\n".join(lines)
