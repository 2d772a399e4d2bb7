"""Known truth for the motion / product line variation tests (view, report, CLI).

Team team-1, reps a, b and c, one week:
- acquisition, product line `platform`, account acc-new (smb): 100 touches each; meetings held
  a 2, b 20, c 18 (rep a is far below the team); 10 connected calls each;
- upsell, product line `analytics`, account acc-cust (mid_market): 40 touches each; meetings held
  a 8, b 7, c 9 (all normal); rep a opens two upsell deals, one won (its won event names no
  motion: it counts as the deal's), one lost; stage visits of 2 and 1 days;
- no motion: rep a sends 5 emails on acc-x (not in `accounts`) and gets 1 reply;
- rep b opens one acquisition deal (platform) that stays open.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)

ACQUISITION_MEETINGS = {"rep-a": 2, "rep-b": 20, "rep-c": 18}
UPSELL_MEETINGS = {"rep-a": 8, "rep-b": 7, "rep-c": 9}


def week_monday(now: dt.datetime) -> dt.datetime:
    """Monday 00:00 UTC of `now`'s week."""
    return (now - now.weekday() * D).replace(hour=0, minute=0, second=0, microsecond=0)


def _touches(s: Any, monday: dt.datetime, rep: str, total: int, meetings: int, motion: str,
             product_line: str, account: str) -> list[dict[str, Any]]:
    rows = []
    for i in range(total):
        at = monday + H + i * M
        tags = {"motion": motion, "product_line": product_line, "account_id": account}
        if i < meetings:
            rows.append(s.activity("meeting", at, rep, **tags))
        else:
            outcome = "connected" if i - meetings < 10 else "no_answer"
            rows.append(s.activity("call", at, rep, outcome=outcome, **tags))
    return rows


def seed_variation(s: Any, now: dt.datetime) -> dt.datetime:
    """Insert the scenario into the test's tenant; returns the week's Monday."""
    monday = week_monday(now)
    s.account("acc-new", "B", "smb")
    s.account("acc-cust", "A", "mid_market")
    rows: list[dict[str, Any]] = []
    for rep, meetings in ACQUISITION_MEETINGS.items():
        rows += _touches(s, monday, rep, 100, meetings, "acquisition", "platform", "acc-new")
    for rep, meetings in UPSELL_MEETINGS.items():
        rows += _touches(s, monday + 4 * H, rep, 40, meetings, "upsell", "analytics", "acc-cust")
    for i in range(5):
        rows.append(s.activity("email", monday + 8 * H + i * M, "rep-a", account_id="acc-x"))
    rows.append(s.activity("email", monday + 9 * H, "rep-a", account_id="acc-x",
                           email_action="replied"))
    upsell = {"motion": "upsell", "product_line": "analytics", "account_id": "acc-cust"}
    rows += [
        s.activity("stage_change", monday + H, "rep-a", opportunity_id="opp-up-1",
                   to_stage="discovery", **upsell),
        s.activity("stage_change", monday + 49 * H, "rep-a", opportunity_id="opp-up-1",
                   from_stage="discovery", to_stage="won", account_id="acc-cust"),
        s.activity("stage_change", monday + H, "rep-a", opportunity_id="opp-up-2",
                   to_stage="discovery", **upsell),
        s.activity("stage_change", monday + 25 * H, "rep-a", opportunity_id="opp-up-2",
                   from_stage="discovery", to_stage="lost", **upsell),
        s.activity("stage_change", monday + 2 * H, "rep-b", opportunity_id="opp-acq-1",
                   to_stage="discovery", motion="acquisition", product_line="platform",
                   account_id="acc-new"),
    ]
    s.insert_activities(rows)
    s.stage_visit("opp-up-1", "acc-cust", "rep-a", "discovery", monday + H, monday + 49 * H,
                  "won")
    s.stage_visit("opp-up-2", "acc-cust", "rep-a", "discovery", monday + H, monday + 25 * H,
                  "lost")
    return monday
