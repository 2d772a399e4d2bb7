"""Coaching panels show the right rows on the seeded data, not only the right columns."""

from __future__ import annotations

import pytest

from touchline.dashboards import coaching
from touchline.dashboards.macros import ALL, QueryContext, expand

pytestmark = pytest.mark.integration


def _panel(title: str) -> str:
    return next(p.sql for p in coaching.PANELS if p.title == title)


def _rows(seeded, title: str, team: str, rep: object = ALL) -> list[dict]:
    ctx = QueryContext.last(7 * 86400, 60, {"tenant": "acme", "team": team, "rep": rep},
                            now=seeded.now)
    return seeded.sink.query(expand(_panel(title), ctx)).dicts()


def test_open_signals_panel_lists_the_firing_signal_and_not_the_resolved_one(seeded) -> None:
    rows = _rows(seeded, "Open coaching signals", "team-east")
    assert [(r["kind"], r["rep"], r["subject_id"]) for r in rows] == [
        ("stuck_deal", "r-east-2", "opp-stuck")]
    assert rows[0]["message"] == "opp-stuck past SLA"
    assert _rows(seeded, "Open coaching signals", "team-west") == []
    assert _rows(seeded, "Open coaching signals", "team-east", ["r-east-1"]) == []
