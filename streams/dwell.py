"""Stage visits of one opportunity from its stage changes, whatever order they arrived in.

A visit starts when a change enters a stage and ends at the next change (by event time, ties
broken by event_id). The last visit is open (no exit).

A history in memory holds at most `KEPT_CHANGES` changes, the latest ones: a CRM automation
that flaps a field thousands of times must not make every change cost the whole history. The
older ones are in `stage_visits` already; a `Summary` first item keeps what the opportunity row
needs of them (first seen, how many). A change that sorts before the oldest kept one reads the
whole history back first (streams/recorder.py), so the visits stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from touchline.schemas.stages import stage_outcome

#: one recorded change: [occurred_ms, event_id, from_stage, to_stage, account, rep, team,
#: is_closed, is_won, vendor_stage, editor_id] (histories recorded before the last four
#: existed have seven items: `change_outcome` and `change_extras` read both)
Change = list[Any]


#: changes of one opportunity kept in memory (and in each changelog write of it)
KEPT_CHANGES = 500
#: the event_id slot of a summary item: [first_seen_ms, SUMMARY, changes dropped]
SUMMARY = "\x00summary"


def split(history: list[Change]) -> tuple[Change | None, list[Change]]:
    """(summary item or None, the changes kept) of a history as stored in memory."""
    if history and history[0][1] == SUMMARY:
        return history[0], history[1:]
    return None, history


def before_kept(history: list[Change], change: Change) -> bool:
    """Whether a change sorts before the oldest kept change of a truncated history."""
    summary, kept = split(history)
    return summary is not None and (change[0], change[1]) < (kept[0][0], kept[0][1])


def merge(history: list[Change], new: list[Change]) -> tuple[list[Change], int, bool]:
    """The changes with `new` merged in order (a set by event_id), without any summary.

    Returns (merged changes, index of the earliest of `new` in them, whether any was new).
    The visits from the one before that index on are the ones `new` can change.
    """
    _, kept = split(history)
    known = {c[1] for c in kept}
    fresh = {c[1]: c for c in new if c[1] not in known}
    merged = sorted([*kept, *fresh.values()], key=lambda c: (c[0], c[1])) if fresh else kept
    ids = {c[1] for c in new}
    first = next((i for i, c in enumerate(merged) if c[1] in ids), len(merged))
    return merged, first, bool(fresh)


def truncate(summary: Change | None, merged: list[Change],
             keep: int = KEPT_CHANGES) -> list[Change]:
    """The history to keep in memory: the latest `keep` changes behind a summary item."""
    if len(merged) <= keep:
        return [summary, *merged] if summary is not None else merged
    drop = len(merged) - keep
    first_seen = summary[0] if summary is not None else merged[0][0]
    dropped = (summary[2] if summary is not None else 0) + drop
    return [[first_seen, SUMMARY, dropped], *merged[drop:]]


def current_stage_entered(changes: list[Change]) -> int:
    """When the opportunity entered its current stage.

    That is the first of the trailing changes that all name it: a CRM's several stages mapped
    to one plan stage (Prospecting, Qualification -> discovery) are one stay there. Looks at
    the changes given (a truncated history's kept ones).
    """
    i = len(changes) - 1
    while i > 0 and changes[i - 1][3] == changes[i][3]:
        i -= 1
    return changes[i][0]


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


def visits(history: list[Change], start: int = 0) -> list[Visit]:
    """The visits implied by the ordered changes, from the `start`th change on."""
    out: list[Visit] = []
    for i in range(start, len(history)):
        change = history[i]
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
