"""Improve: which cadence step a reply or a meeting is credited to, and why cadences ended.

A reply or a meeting is credited to the last step the prospect got before it (the step that
caused it), as sequencing tools do; per step, the credited replies and meetings over the
prospects who got the step are its reply and meeting rates. Why each cadence ended (reply,
meeting, bounce, unsubscribe, a closing disposition) is read from the `cadence_progress` view
(sinks/ddl/0013_rules.sql), where the cadence-exit rule is written.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from touchline.plan.report import ProspectOutcome
from touchline.plan.stats import Proportion, wilson
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.terminal_table import align

CREDITED = ("reply", "meeting")

_EXITS = """
SELECT cadence_id, exit_reason, active, count() AS prospects
FROM {db}.cadence_progress(tenant = {tenant:String}, rep = '', now = {until:DateTime64(3, 'UTC')})
WHERE started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')}
GROUP BY cadence_id, exit_reason, active
ORDER BY cadence_id, exit_reason
"""


def credited_step(step_times: dict[int, dt.datetime], at: dt.datetime) -> int | None:
    """The last step done at or before `at` (None when the outcome came before any step)."""
    before = [(t, step) for step, t in step_times.items() if t <= at]
    return max(before)[1] if before else None


@dataclass
class StepCredit:
    """Prospects who got a step, and the replies and meetings credited to it."""

    prospects: int = 0
    reply: int = 0
    meeting: int = 0

    def rate(self, outcome: str) -> Proportion:
        """Credited outcomes per prospect who got the step, with a 95% Wilson interval."""
        return wilson(getattr(self, outcome), self.prospects)


def by_credited_step(outcomes: list[ProspectOutcome]) -> dict[tuple[str, int], StepCredit]:
    """(cadence, step) -> prospects who got it and the replies / meetings credited to it."""
    rows: dict[tuple[str, int], StepCredit] = defaultdict(StepCredit)
    for p in outcomes:
        for step in p.step_times:
            rows[(p.cadence_id, step)].prospects += 1
        for outcome in CREDITED:
            at = p.outcome_at[outcome]
            step = credited_step(p.step_times, at) if at is not None else None
            if step is not None:
                row = rows[(p.cadence_id, step)]
                setattr(row, outcome, getattr(row, outcome) + 1)
    return dict(sorted(rows.items()))


def format_credits(rows: dict[tuple[str, int], StepCredit]) -> str:
    """A table: cadence, step, prospects, then reply and meeting rates credited to the step."""
    header = ["cadence", "step", "prospects", "replies credited", "meetings credited"]
    body = [[cadence, str(step), str(r.prospects), str(r.rate("reply")), str(r.rate("meeting"))]
            for (cadence, step), r in rows.items()]
    lines = ["Replies and meetings credited to the step before them:", *align(body, header)]
    if not body:
        lines.append("(no prospects in a cadence in this period)")
    return "\n".join(lines)


def exit_reasons(sink: ClickHouseSink, tenant: str, since: dt.datetime, until: dt.datetime,
                 cadences: tuple[str, ...] = ()) -> dict[str, Counter[str]]:
    """Cadence -> how its prospects' cadences ended (or `active` / `finished`) by `until`."""
    rows = sink.query(_EXITS.replace("{db}", sink.database),
                      {"tenant": tenant, "since": since, "until": until}).dicts()
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        if cadences and r["cadence_id"] not in cadences:
            continue
        reason = r["exit_reason"] or ("active" if r["active"] else "finished")
        out[r["cadence_id"]][reason] += r["prospects"]
    return dict(sorted(out.items()))


def format_exits(exits: dict[str, Counter[str]]) -> str:
    """One line per cadence: how many prospects left it, and why."""
    lines = ["How cadences ended (replied, meeting, bounced, unsubscribed, disposition_*):"]
    for cadence, counts in exits.items():
        lines.append(f"  {cadence}: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    if not exits:
        lines.append("  (no prospects in a cadence in this period)")
    return "\n".join(lines)
