"""`touchline signals list` as a manager reads it: per team, per rep, counts, then messages."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any


def _state(row: dict[str, Any]) -> str:
    if row["status"] == "firing":
        return "firing"
    resolved = row["resolved_at"]
    return f"resolved {resolved:%m-%d %H:%M}" if isinstance(resolved, dt.datetime) else "resolved"


def _counts(rows: list[dict[str, Any]]) -> str:
    kinds = Counter(r["kind"] for r in rows)
    return ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))


def format_grouped(rows: list[dict[str, Any]], limit: int) -> str:
    """Signals grouped by team then rep, each with its count per kind.

    Args:
        rows: `signals` rows (team_id, rep_id, kind, status, message, fired_at, resolved_at).
        limit: messages shown per rep, newest first (0: all).

    Returns:
        The text, ending with the total.
    """
    teams: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        teams[r["team_id"] or "(no team)"][r["rep_id"] or "(no rep)"].append(r)
    lines = []
    for team in sorted(teams):
        reps = teams[team]
        team_rows = [r for rep_rows in reps.values() for r in rep_rows]
        lines.append(f"{team}: {len(team_rows)} signal{'s' * (len(team_rows) != 1)}, "
                     f"{len(reps)} rep{'s' * (len(reps) != 1)} ({_counts(team_rows)})")
        for rep in sorted(reps, key=lambda x: (-len(reps[x]), x)):
            rep_rows = sorted(reps[rep], key=lambda r: r["fired_at"], reverse=True)
            lines.append(f"  {rep}: {len(rep_rows)} ({_counts(rep_rows)})")
            shown = rep_rows[:limit] if limit else rep_rows
            for r in shown:
                lines.append(f"    [{r['kind']}] {_state(r)} since "
                             f"{r['fired_at']:%Y-%m-%d %H:%M}Z  {r['message']}")
            if len(shown) < len(rep_rows):
                lines.append(f"    ... {len(rep_rows) - len(shown)} more (--rep {rep} --limit 0)")
    lines.append(f"{len(rows)} signal{'s' * (len(rows) != 1)} in {len(teams)} "
                 f"team{'s' * (len(teams) != 1)}")
    return "\n".join(lines)
