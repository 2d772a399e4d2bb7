"""The 1:1 view: one rep's week at a glance, for the manager and the rep to talk over.

Day by day activity vs plan, this period vs the one before, the rep's open coaching signals,
their deals' stage moves and stuck deals, and what to do next (prospects due a touch). It opens
on a rep with cadence work, not the first name alphabetically.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from touchline.dashboards import queries as q
from touchline.dashboards.panels import PanelSpec, VariableSpec, new_dashboard

UID = "touchline-rep"

VARIABLES = [
    VariableSpec("tenant", "Tenant", q.VAR_TENANTS),
    VariableSpec("rep", "Rep", q.VAR_REPS_BY_CADENCE_WORK, sort=False),
]

PANELS = [
    PanelSpec("Touches this week", "stat", q.REP_TOUCHES_THIS_WEEK, ("touches_this_week",),
              "Calls attempted, emails sent and meetings held since Monday.", "short", 6, 4),
    PanelSpec("This period vs the one before, vs plan", "table", q.REP_PERIOD_VS_PLAN,
              ("activity", "this_period", "previous_period", "planned"),
              "High-impact activities in the time range, in the range before it, and the "
              "role's weekly target pro-rated to the range.", "", 18, 6),
    PanelSpec("Day by day vs plan", "table", q.REP_DAY_BY_DAY,
              ("day", "activity", "done", "planned_per_day"),
              "Each day's activity mix against the weekly target spread over five days.", "",
              12, 10),
    PanelSpec("Open coaching signals", "table", q.REP_OPEN_SIGNALS,
              ("fired_at", "kind", "subject_id", "message"),
              "What to work on: each signal names the activity to change.", "", 12, 10),
    PanelSpec("My prospects due a touch", "table", q.REP_PROSPECTS_DUE,
              ("prospect", "account", "cadence", "next_step", "next_channel", "next_due_at",
               "days_overdue"),
              "The next cadence step of each prospect whose step is due, oldest first; "
              "cadences that ended on a reply, meeting, bounce or unsubscribe are left out.",
              "", 24, 8),
    PanelSpec("Deal moves", "table", q.REP_DEAL_MOVES,
              ("moved_at", "opportunity", "account", "from_stage", "to_stage"),
              "Stage changes of the rep's deals in the time range.", "", 12, 8),
    PanelSpec("Stuck deals", "table", q.REP_STUCK_DEALS,
              ("opportunity", "account", "segment", "stage", "days_in_stage", "stage_sla_days"),
              "Deals past their stage SLA for their segment (the stuck-deal rule).", "", 12, 8),
    PanelSpec("My deals sitting longest", "table", q.REP_DEALS_LONGEST,
              ("opportunity", "account", "segment", "stage", "days_in_stage", "stage_sla_days"),
              "Open deals by time in stage relative to the stage SLA of their segment.", "", 24,
              8),
]


def rep_view() -> Dashboard:
    """The 1:1 rep dashboard builder."""
    return new_dashboard(
        UID, "touchline / 1:1 rep view",
        "One rep's week: activity vs plan day by day and against the period before, open "
        "signals, deal moves and stuck deals, prospects due a touch.",
        "now-7d", VARIABLES, PANELS)
