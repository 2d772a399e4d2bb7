"""Improve: which touch pattern works. Conversion per cadence, step and touch count.

For each prospect worked in a cadence (its first cadence touch inside the period; touches are
the cadence's calls and emails, a meeting is an outcome), the outcomes
after the cadence started: a reply (email replied or inbound call), a meeting held, an
opportunity opened on the prospect (or, when the deal names no prospect, on its account) and
that opportunity won. Rates carry 95% Wilson intervals, so a manager can tell a real
difference from noise.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from touchline.plan.stats import Proportion, clearly_different, wilson
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.terminal_table import align

OUTCOMES = ("reply", "meeting", "opportunity", "won")

PROSPECT_OUTCOMES = """
WITH pp AS
(
    SELECT cadence_id, prospect_id, argMin(account_id, occurred_at) AS account_id,
           min(occurred_at) AS started_at, countIf(channel != 'meeting') AS touches,
           groupArrayIf((cadence_step, occurred_at), channel != 'meeting') AS step_times
    FROM {db}.activities
    WHERE tenant = {tenant:String} AND is_touch = 1 AND cadence_id != '' AND prospect_id != ''
      AND cadence_step > 0
    GROUP BY cadence_id, prospect_id
    HAVING started_at >= {since:DateTime64(3, 'UTC')} AND started_at < {until:DateTime64(3, 'UTC')}
),
by_prospect AS
(
    SELECT pp.cadence_id AS cadence_id, pp.prospect_id AS prospect_id,
           minIf(a.occurred_at, a.occurred_at >= pp.started_at AND
                 ((a.type = 'email' AND a.email_action = 'replied')
                  OR (a.type = 'call' AND a.direction = 'inbound'))) AS reply_at,
           minIf(a.occurred_at, a.occurred_at >= pp.started_at AND a.type = 'meeting'
                 AND a.meeting_status = 'held') AS meeting_at
    FROM pp
    INNER JOIN (SELECT prospect_id, type, email_action, direction, meeting_status, occurred_at
                FROM {db}.activities
                WHERE tenant = {tenant:String} AND prospect_id != ''
                  AND type IN ('email', 'call', 'meeting')) AS a
        ON pp.prospect_id = a.prospect_id
    GROUP BY cadence_id, prospect_id
),
opportunities AS
(
    SELECT opportunity_id, argMin(account_id, occurred_at) AS account_id,
           argMin(prospect_id, occurred_at) AS prospect_id, min(occurred_at) AS created_at,
           minIf(occurred_at, is_won = 1) AS won_at,
           countIf(is_won = 1) AS wins
    FROM {db}.activities
    WHERE tenant = {tenant:String} AND type = 'stage_change' AND opportunity_id != ''
    GROUP BY opportunity_id
),
deals AS
(
    SELECT pp.cadence_id AS cadence_id, pp.prospect_id AS prospect_id,
           minIf(o.created_at, o.created_at >= pp.started_at) AS opportunity_at,
           minIf(o.won_at, o.created_at >= pp.started_at AND o.wins > 0) AS won_at
    FROM pp
    INNER JOIN opportunities AS o ON pp.account_id = o.account_id
    WHERE o.prospect_id = '' OR o.prospect_id = pp.prospect_id
    GROUP BY cadence_id, prospect_id
)
SELECT pp.cadence_id AS cadence_id, pp.prospect_id AS prospect_id, pp.touches AS touches,
       pp.step_times AS step_times, pp.started_at AS started_at,
       b.reply_at AS reply_at, b.meeting_at AS meeting_at,
       d.opportunity_at AS opportunity_at, d.won_at AS won_at
FROM pp
LEFT JOIN by_prospect AS b ON pp.cadence_id = b.cadence_id AND pp.prospect_id = b.prospect_id
LEFT JOIN deals AS d ON pp.cadence_id = d.cadence_id AND pp.prospect_id = d.prospect_id
ORDER BY cadence_id, prospect_id
"""

#: no SETTINGS in the query (a read-only reader may not change them): an outcome that never
#: happened (minIf over no row, or a LEFT JOIN without a match) reads 1970-01-01
_EPOCH = dt.datetime(1971, 1, 1)


@dataclass
class ProspectOutcome:
    """One prospect worked in one cadence, and what happened after it started."""

    cadence_id: str
    prospect_id: str
    touches: int
    step_times: dict[int, dt.datetime]
    outcome_at: dict[str, dt.datetime | None]


@dataclass
class Row:
    """Counts for one group (a cadence and a step, or a cadence and a touch count)."""

    prospects: int = 0
    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    def rate(self, outcome: str) -> Proportion:
        """The outcome's conversion with its Wilson interval."""
        return wilson(self.hits[outcome], self.prospects)


def _when(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    value = value.replace(tzinfo=None) if value.tzinfo else value
    return None if value < _EPOCH else value


def prospect_outcomes(sink: ClickHouseSink, tenant: str, since: dt.datetime,
                      until: dt.datetime, cadences: tuple[str, ...] = ()) -> list[ProspectOutcome]:
    """Every prospect whose cadence started in [since, until), with its outcome times."""
    rows = sink.query(PROSPECT_OUTCOMES.replace("{db}", sink.database),
                      {"tenant": tenant, "since": since, "until": until}).dicts()
    out = []
    for r in rows:
        if cadences and r["cadence_id"] not in cadences:
            continue
        steps: dict[int, dt.datetime] = {}
        for step, at in r["step_times"]:
            at = at.replace(tzinfo=None) if at.tzinfo else at
            steps[step] = min(at, steps.get(step, at))
        out.append(ProspectOutcome(
            r["cadence_id"], r["prospect_id"], r["touches"], steps,
            {o: _when(r[f"{o}_at"]) for o in OUTCOMES},
        ))
    return out


def by_touches(outcomes: list[ProspectOutcome]) -> dict[tuple[str, int], Row]:
    """(cadence, touches received) -> prospects and how many reached each outcome."""
    rows: dict[tuple[str, int], Row] = defaultdict(Row)
    for p in outcomes:
        row = rows[(p.cadence_id, p.touches)]
        row.prospects += 1
        for o in OUTCOMES:
            row.hits[o] += p.outcome_at[o] is not None
    return dict(sorted(rows.items()))


def by_step(outcomes: list[ProspectOutcome]) -> dict[tuple[str, int], Row]:
    """(cadence, step) -> prospects who got that step, and how many converted after it."""
    rows: dict[tuple[str, int], Row] = defaultdict(Row)
    for p in outcomes:
        for step, at in p.step_times.items():
            row = rows[(p.cadence_id, step)]
            row.prospects += 1
            for o in OUTCOMES:
                when = p.outcome_at[o]
                row.hits[o] += when is not None and when >= at
    return dict(sorted(rows.items()))


def totals(outcomes: list[ProspectOutcome]) -> dict[str, Row]:
    """Cadence -> all its prospects and their outcomes."""
    rows: dict[str, Row] = defaultdict(Row)
    for p in outcomes:
        row = rows[p.cadence_id]
        row.prospects += 1
        for o in OUTCOMES:
            row.hits[o] += p.outcome_at[o] is not None
    return dict(sorted(rows.items()))


def format_table(title: str, key_names: tuple[str, ...],
                 rows: dict[Any, Row]) -> str:
    """A plain-text table: keys, prospects, then each outcome as hits/n rate [CI]."""
    header = [*key_names, "prospects", *OUTCOMES]
    body = []
    for key, row in rows.items():
        keys = key if isinstance(key, tuple) else (key,)
        body.append([*(str(k) for k in keys), str(row.prospects),
                     *(str(row.rate(o)) for o in OUTCOMES)])
    lines = [title, *align(body, header)]
    if not body:
        lines.append("(no prospects in a cadence in this period)")
    return "\n".join(lines)


def compare(label_a: str, a: Row, label_b: str, b: Row) -> list[str]:
    """Lines comparing two groups outcome by outcome; `*` marks a clear difference."""
    lines = []
    for o in OUTCOMES:
        ra, rb = a.rate(o), b.rate(o)
        mark = "  * clearly different" if clearly_different(ra, rb) else ""
        lines.append(f"  {o:<12} {label_a}: {ra}   {label_b}: {rb}{mark}")
    return lines
