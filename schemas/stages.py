"""Which stages are closed, and which closed stage is won: the one rule every table reads.

A stage change closes its opportunity when the source system says so (Salesforce's
`IsClosed` / `IsWon`, carried as the event's `is_closed` / `is_won`), or, when it does not say,
when the stage is one of the canonical closed stages: `won` (closed and won) or `lost`
(closed, not won). The pipeline stores the outcome on every stage-change row
(`activities.is_closed`, `activities.is_won`) and on `opportunity_state`; views, reports,
signals and panels read those columns and never compare stage names themselves.
"""

from __future__ import annotations

#: canonical closed stage -> won?; vendor stage maps (schemas/vendors/stage_map.py) map a
#: CRM's closed stages onto these
CLOSED_STAGES: dict[str, bool] = {"won": True, "lost": False}


def stage_outcome(to_stage: str, is_closed: bool | None = None,
                  is_won: bool | None = None) -> tuple[bool, bool]:
    """(closed, won) of a stage change: the source's own flags first, else the stage name.

    A won deal is always closed, whatever the flags say.
    """
    if is_closed is None and is_won is None:
        won = CLOSED_STAGES.get(to_stage)
        return won is not None, bool(won)
    won = bool(is_won)
    return bool(is_closed) or won, won
