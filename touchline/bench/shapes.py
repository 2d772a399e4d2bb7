"""How the benchmark's generated activities fall over reps, prospects and days.

touchline/bench/queries.py `GENERATE` writes each row from `h`, a hash of its number; a shape
gives the SQL that picks a row's rep, kind and deal from it, and how many days the rows span.
The queries and viewers sections (`touchline bench --shape`) and bench/viewers_ab.py take one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the generated org: reps r-0 .. r-1999, rep r-N in team-(N % TEAMS), accounts
#: acct-0 .. acct-199999 (the book: account N owned by r-(N % REPS))
REPS = 2000
TEAMS = 50
ACCOUNTS = 200_000
#: the days the dense shape packs every row into
DENSE_DAYS = 30
#: the plan, reps and book are in force this many days before the first generated row
DIMENSIONS_LEAD_DAYS = 30


@dataclass(frozen=True)
class Shape:
    """A shape of generated rows (SQL over `h`, a row's hash)."""

    name: str
    #: what it is, in the words `touchline bench --help` shows
    summary: str
    #: the rep (0 .. REPS - 1) of a row
    rep: str
    #: 0-99: which kind of activity a row is (`GENERATE`'s type mix)
    kind: str
    #: the opportunity number (0-49999) of a stage change
    opportunity: str
    #: a rep's activities per day; None: every row within `DENSE_DAYS`
    per_rep_day: int | None

    def days(self, rows: int) -> int:
        """Days of history `rows` activities cover (at least `DENSE_DAYS`)."""
        if self.per_rep_day is None:
            return DENSE_DAYS
        return max(DENSE_DAYS, math.ceil(rows / (REPS * self.per_rep_day)))


#: dense: the stress the panels were first measured on (100M rows: ~1,700 activities per rep
#: per day, ~50k prospects per rep in a 90-day cadence window). org: as a sales org of 2,000
#: reps fills a store (each row's rep owns its account in the book).
SHAPES = {
    "dense": Shape("dense", "any rep touches any prospect, all rows within 30 days",
                   rep=f"intDiv(h, 7) % {REPS}", kind="h % 100",
                   opportunity="intDiv(h, 100) % 50000", per_rep_day=None),
    "org": Shape("org", "each prospect, account and deal worked by its owner, 100 activities "
                 "per rep per day: 100M rows are 500 days of history",
                 rep=f"h % {REPS}", kind="intDiv(h, 1000000) % 100",
                 opportunity="h % 50000", per_rep_day=100),
}
