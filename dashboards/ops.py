"""Ops control panel: is the pipeline keeping up, and what is flowing through it."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from touchline.dashboards import queries as q
from touchline.dashboards.alerts import STALL_AFTER_S
from touchline.dashboards.panels import PanelSpec, VariableSpec, new_dashboard

UID = "touchline-ops"

VARIABLES = [VariableSpec("tenant", "Tenant", q.VAR_TENANTS)]

PANELS = [
    PanelSpec("Events in (per s, last 5 min)", "stat", q.OPS_EVENTS_PER_S, ("events_per_s",),
              "Raw events the workers read, all partitions.", "short", 6, 4),
    PanelSpec("Consumer lag", "stat", q.OPS_LAG, ("consumer_lag",),
              "Messages not yet processed (latest report per partition).", "short", 6, 4),
    PanelSpec("Freshness", "stat", q.OPS_FRESHNESS, ("seconds_since_last_event",),
              "Time since the newest accepted event was written to ClickHouse.", "s", 6, 4),
    PanelSpec("DLQ share", "stat", q.OPS_DLQ_SHARE, ("dlq_percent",),
              "Rejected events as a share of events read, in the time range.", "percent", 6, 4),
    # the stall state from the numbers the "Pipeline stalled" alert reads
    PanelSpec("Without progress", "stat", q.ALERT_PIPELINE_FRESHNESS,
              ("seconds_without_progress",),
              "Longest wait of messages on a partition with none recorded, or time since the "
              f"last worker report (about 1 s when healthy, idle or busy). Over {STALL_AFTER_S} s "
              "is a stall: the alert 'Pipeline stalled' fires.", "s", 6, 6),
    PanelSpec("Stalled partitions", "table", q.OPS_STALLED_PARTITIONS,
              ("topic", "partition", "messages_waiting", "nothing_recorded_since",
               "seconds_waiting", "last_report"),
              "Partitions where messages wait on the broker, longest first: how many, and since "
              "when none was recorded (from the workers' last reports).", "", 18, 6),
    PanelSpec("Events/s by source", "timeseries", q.OPS_EVENTS_BY_SOURCE,
              ("time", "source", "events_per_s"),
              "Accepted events by ingest time and source system.", "short"),
    PanelSpec("Lag by partition", "timeseries", q.OPS_LAG_BY_PARTITION,
              ("time", "topic_partition", "lag"), "Consumer lag per topic partition.", "short"),
    PanelSpec("DLQ by reason", "timeseries", q.OPS_DLQ_BY_REASON, ("time", "reason", "rejected"),
              "Rejected events per interval, by reason.", "short"),
    PanelSpec("Touches by channel", "timeseries", q.OPS_TOUCHES_BY_CHANNEL,
              ("time", "channel", "touches"), "Touches (event time) by channel.", "short"),
    PanelSpec("Unmapped CRM stages", "table", q.OPS_UNMAPPED_STAGES,
              ("source", "stage", "changes", "deals", "source_says", "last_seen"),
              "Stage names recorded that the plan does not have: add them to the stage map "
              "(touchline stages map) or to the plan. Kept as sent; closed only if the "
              "source said so.", "", 24, 6),
    PanelSpec("Pipeline health", "table", q.OPS_PIPELINE_HEALTH,
              ("topic", "partition", "last_worker", "last_report", "committed_offset",
               "highwater_offset", "current_lag", "events_in_range", "rejected_in_range",
               "newest_event_time"),
              "Per partition: who reads it, how far behind, what it rejected.", "", 24, 8),
]


def ops_control_panel() -> Dashboard:
    """The ops dashboard builder."""
    return new_dashboard(
        UID, "touchline / ops control panel",
        "Pipeline throughput, lag, freshness and rejects; touches by channel.",
        "now-6h", VARIABLES, PANELS)
