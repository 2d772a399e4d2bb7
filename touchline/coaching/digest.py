"""The weekly digest of a team (or one rep): what happened, against the plan, with context.

Per rep and high-impact activity: done vs the week's pro-rated target, and last week for the
trend (`rep_week_vs_target`, plan and org period in force); prospects by touches received in
the week (0 .. 8+); the open signals with what to do; the deals past their stage SLA at the
week's end (`rule_stuck_deals`). Rendering is in digest_html.py.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from touchline.sinks.clickhouse import ClickHouseSink

ACTIVITIES = ("call_attempts", "connected_calls", "emails_sent", "meetings_held",
              "leads_touched_within_sla")
ACTIVITY_WORDS = {"call_attempts": "call attempts", "connected_calls": "connected calls",
                  "emails_sent": "emails sent", "meetings_held": "meetings held",
                  "leads_touched_within_sla": "% new leads touched in SLA"}
TOUCH_BUCKETS = ("0", "1", "2", "3", "4", "5", "6", "7", "8+")

_WEEKS = """
SELECT rep_id, activity, week_start, sum(actual) AS actual, sum(target) AS target
FROM {db}.rep_week_vs_target
WHERE tenant = {tenant:String} AND team_id = {team:String}
  AND week_start IN ({this:DateTime64(3, 'UTC')}, {last:DateTime64(3, 'UTC')})
  AND ({rep:String} = '' OR rep_id = {rep:String})
GROUP BY rep_id, activity, week_start
HAVING actual IS NOT NULL  -- a week without new leads has no speed-to-lead figure
"""

_TOUCHES = """
SELECT if(touches >= 8, '8+', toString(touches)) AS bucket, count() AS prospects
FROM
(
    SELECT prospect_id, countIf(is_touch = 1) AS touches
    FROM {db}.activities
    WHERE tenant = {tenant:String} AND team_id = {team:String} AND prospect_id != ''
      AND ({rep:String} = '' OR rep_id = {rep:String})
      AND occurred_at >= {this:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}
    GROUP BY prospect_id
)
GROUP BY bucket
"""

_SIGNALS = """
SELECT rep_id, kind, message, fired_at FROM {db}.signals FINAL
WHERE tenant = {tenant:String} AND team_id = {team:String} AND status = 'firing'
  AND ({rep:String} = '' OR rep_id = {rep:String})
ORDER BY rep_id, kind, fired_at
"""

_STUCK = """
SELECT rep_id, opportunity_id, account_id, segment, stage, dwell_s, sla_s
FROM {db}.rule_stuck_deals(tenant = {tenant:String}, now = {at:DateTime64(3, 'UTC')})
WHERE team_id = {team:String} AND ({rep:String} = '' OR rep_id = {rep:String})
ORDER BY dwell_s / sla_s DESC
"""


class WeekError(ValueError):
    """A week that is not written YYYY-Www."""


def parse_week(text: str) -> dt.datetime:
    """Monday 00:00 UTC of an ISO week written `2026-W49`."""
    m = re.fullmatch(r"(\d{4})-W(\d{2})", text.strip())
    if not m:
        raise WeekError(f"week {text!r}: write it as YYYY-Www, e.g. 2026-W49")
    try:
        day = dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise WeekError(f"week {text!r}: {m.group(1)} has no week {m.group(2)}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def week_label(monday: dt.datetime) -> str:
    """`2026-W49` for a Monday."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def last_full_week(now: dt.datetime) -> dt.datetime:
    """Monday of the last finished ISO week."""
    today = now.astimezone(dt.UTC).date()
    monday = today - dt.timedelta(days=today.weekday() + 7)
    return dt.datetime(monday.year, monday.month, monday.day, tzinfo=dt.UTC)


@dataclass
class ActivityLine:
    """One rep's activity in the week and the week before, with their targets."""

    activity: str
    done: float
    target: float
    last_done: float | None
    last_target: float | None


@dataclass
class RepWeek:
    """One rep's part of the digest."""

    rep_id: str
    activities: list[ActivityLine] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    stuck: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Digest:
    """Everything one digest shows."""

    tenant: str
    team: str
    week_start: dt.datetime
    judged_at: dt.datetime
    rep: str = ""
    reps: list[RepWeek] = field(default_factory=list)
    touches: dict[str, int] = field(default_factory=dict)

    @property
    def week(self) -> str:
        """The ISO week, e.g. 2026-W49."""
        return week_label(self.week_start)

    @property
    def title(self) -> str:
        """What the digest is about."""
        who = f"rep {self.rep} ({self.team})" if self.rep else f"team {self.team}"
        return f"touchline weekly digest: {who}, {self.week}"


def build_digest(sink: ClickHouseSink, tenant: str, team: str, week_start: dt.datetime,
                 now: dt.datetime | None = None, rep: str = "") -> Digest:
    """Read one week of a team (or of one of its reps) from ClickHouse."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    end = week_start + dt.timedelta(days=7)
    at = min(end, now)
    params = {"tenant": tenant, "team": team, "rep": rep, "this": week_start,
              "last": week_start - dt.timedelta(days=7), "end": end, "at": at}
    db = sink.database

    def q(sql: str) -> list[dict[str, Any]]:
        return sink.query(sql.replace("{db}", db), params).dicts()

    reps: dict[str, RepWeek] = {}
    weeks: dict[tuple[str, str], dict[bool, tuple[float, float]]] = {}
    this_naive = week_start.replace(tzinfo=None)
    for r in q(_WEEKS):
        is_this = r["week_start"].replace(tzinfo=None) == this_naive
        weeks.setdefault((r["rep_id"], r["activity"]), {})[is_this] = (r["actual"], r["target"])
    for (rep_id, activity), both in sorted(weeks.items()):
        if True not in both:
            continue  # only last week: the rep did nothing this week (listed below)
        done, target = both[True]
        last = both.get(False)
        reps.setdefault(rep_id, RepWeek(rep_id)).activities.append(ActivityLine(
            activity, done, target, last[0] if last else None, last[1] if last else None))
    for rep_id in {k[0] for k in weeks} - set(reps):
        reps[rep_id] = RepWeek(rep_id)  # active last week, nothing this week
    for r in q(_SIGNALS):
        reps.setdefault(r["rep_id"], RepWeek(r["rep_id"])).signals.append(r)
    for r in q(_STUCK):
        reps.setdefault(r["rep_id"], RepWeek(r["rep_id"])).stuck.append(r)
    order = {a: i for i, a in enumerate(ACTIVITIES)}
    for rw in reps.values():
        rw.activities.sort(key=lambda a: order.get(a.activity, 99))
    touches = dict.fromkeys(TOUCH_BUCKETS, 0)
    for r in q(_TOUCHES):
        touches[r["bucket"]] = r["prospects"]
    return Digest(tenant, team, week_start, at, rep, sorted(reps.values(),
                                                            key=lambda x: x.rep_id), touches)
