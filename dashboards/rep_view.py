"""Rep view: what to do next (prospects due a touch) and deals sitting longest."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from touchline.dashboards import queries as q
from touchline.dashboards.panels import PanelSpec, VariableSpec, new_dashboard

UID = "touchline-rep"

VARIABLES = [
    VariableSpec("tenant", "Tenant", q.VAR_TENANTS),
    VariableSpec("rep", "Rep", q.VAR_REPS),
]

PANELS = [
    PanelSpec("Touches this week", "stat", q.REP_TOUCHES_THIS_WEEK, ("touches_this_week",),
              "Calls attempted, emails sent and meetings held since Monday.", "short", 24, 4),
    PanelSpec("My prospects due a touch", "table", q.REP_PROSPECTS_DUE,
              ("prospect", "account", "cadence", "next_step", "next_channel", "next_due_at",
               "days_overdue"),
              "The next cadence step of each prospect whose step is due, oldest first.", "", 24,
              10),
    PanelSpec("My deals sitting longest", "table", q.REP_DEALS_LONGEST,
              ("opportunity", "account", "segment", "stage", "days_in_stage", "stage_sla_days"),
              "Open deals by time in stage relative to the stage SLA of their segment.", "", 24,
              8),
]


def rep_view() -> Dashboard:
    """The rep dashboard builder."""
    return new_dashboard(
        UID, "touchline / rep view",
        "My prospects due a touch and my deals sitting longest.",
        "now-7d", VARIABLES, PANELS)
