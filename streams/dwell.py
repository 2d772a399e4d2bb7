"""Stage visits of one opportunity from its stage changes, whatever order they arrived in.

A visit starts when a change enters a stage and ends at the next change (by event time, ties
broken by event_id). The last visit is open (no exit) unless its stage is closed (won/lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from touchline.schemas.stages import stage_outcome

#: one recorded change: [occurred_ms, event_id, from_stage, to_stage, account, rep, team,
#: is_closed, is_won, vendor_stage, editor_id] (histories recorded before the last four
#: existed have seven items: `change_outcome` and `change_extras` read both)
Change = list[Any]


def change_outcome(change: Change) -> tuple[bool, bool]:
    """(closed, won) the change recorded; for a seven-item change, from its stage name."""
    if len(change) > 8:
        return bool(change[7]), bool(change[8])
    return stage_outcome(change[3])


def change_extras(change: Change) -> tuple[str, str]:
    """(vendor_stage, editor_id) of a change ('' when it has none)."""
    return (change[9], change[10]) if len(change) > 10 else ("", "")


@dataclass(frozen=True)
class Visit:
    """One stay of an opportunity in a stage."""

    stage: str
    entered_ms: int
    entered_event_id: str
    exited_ms: int | None
    next_stage: str

    @property
    def dwell_s(self) -> float | None:
        """Seconds in the stage, None while the visit is open."""
        return None if self.exited_ms is None else (self.exited_ms - self.entered_ms) / 1000.0


def add_change(history: list[Change], change: Change) -> tuple[list[Change], bool]:
    """Return history with the change inserted in event-time order, and whether it was new."""
    if any(existing[1] == change[1] for existing in history):
        return history, False
    merged = sorted([*history, change], key=lambda c: (c[0], c[1]))
    return merged, True


def visits(history: list[Change]) -> list[Visit]:
    """Every visit implied by the ordered history."""
    out: list[Visit] = []
    for i, change in enumerate(history):
        nxt = history[i + 1] if i + 1 < len(history) else None
        out.append(
            Visit(
                stage=change[3],
                entered_ms=change[0],
                entered_event_id=change[1],
                exited_ms=nxt[0] if nxt else None,
                next_stage=nxt[3] if nxt else "",
            )
        )
    return out
