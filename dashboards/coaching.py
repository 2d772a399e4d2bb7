"""Manager coaching view: activity and trend per rep, with context (plan, SLA per segment)."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from touchline.dashboards import queries as q
from touchline.dashboards.panels import PanelSpec, VariableSpec, new_dashboard

UID = "touchline-coaching"

VARIABLES = [
    VariableSpec("tenant", "Tenant", q.VAR_TENANTS),
    VariableSpec("team", "Team", q.VAR_TEAMS),
    VariableSpec("rep", "Rep", q.VAR_TEAM_REPS, multi=True, include_all=True),
]

PANELS = [
    PanelSpec("High-impact activities vs plan (this week)", "table", q.COACH_ACTIVITY_VS_PLAN,
              ("rep", "rep_name", "activity", "done_this_week", "weekly_target", "due_by_now"),
              "Done so far this week against the weekly target pro-rated to now.", "", 12, 10),
    PanelSpec("Prospects by touches received", "barchart", q.COACH_TOUCH_DISTRIBUTION,
              ("touches_received", "prospects"),
              "How many prospects got 0, 1, 2 ... 8+ touches in the time range.", "short", 12,
              10),
    PanelSpec("Open deals by stage vs stage SLA", "table", q.COACH_DEALS_BY_STAGE,
              ("segment", "stage", "open_deals", "median_days_in_stage", "longest_days_in_stage",
               "stage_sla_days", "past_stage_sla"),
              "Dwell judged against each segment's own stage SLA (enterprise cycles are long).",
              "", 12, 8),
    PanelSpec("Accounts going quiet", "table", q.COACH_UNTOUCHED_ACCOUNTS,
              ("account", "account_name", "rep", "tier", "days_since_touch",
               "untouched_after_days", "touched_in_lookback"),
              "Accounts past half of their tier's untouched threshold, closest first.", "", 12, 8),
    PanelSpec("Touches per rep", "timeseries", q.COACH_TOUCHES_BY_REP,
              ("time", "rep", "touches"), "Trend of touches per rep.", "short", 12, 8),
    PanelSpec("Variation across reps", "table", q.COACH_REP_SPREAD,
              ("rep", "touches", "connected_calls", "meetings_held", "prospects_touched",
               "touches_vs_team_median"),
              "Each rep's activity against the team median in the time range.", "", 12, 8),
    PanelSpec("Open coaching signals", "table", q.COACH_OPEN_SIGNALS,
              ("fired_at", "kind", "rep", "subject_type", "subject_id", "activity", "message"),
              "What the stream's coaching signals ask each rep to do next.", "", 24, 8),
    PanelSpec("Variation by motion and product line", "table", q.COACH_MOTION_VARIATION,
              ("motion", "product_line", "reps", "touches", "meetings_held",
               "meetings_per_100_touches", "lowest_rep", "lowest_rep_per_100", "highest_rep",
               "highest_rep_per_100"),
              "Meetings held per 100 touches per sales motion (acquisition, retention, upsell) "
              "and product line, with the spread between reps (those with at least "
              f"{q.MOTION_MIN_REP_TOUCHES} touches). `touchline report variation` adds "
              "confidence intervals.", "", 24, 8),
]


def manager_coaching_view() -> Dashboard:
    """The coaching dashboard builder."""
    return new_dashboard(
        UID, "touchline / manager coaching view",
        "High-impact activities vs plan, touch distribution, deal dwell vs SLA, quiet accounts.",
        "now-7d", VARIABLES, PANELS)
