"""Alert rules on leading indicators, built with grafana-foundation-sdk.

Each rule has one ClickHouse query (refId A, table format: every string column becomes a label,
the one numeric column is the value) and a threshold expression (refId B, the condition). So a
rule fires once per row over the threshold, labelled with the row's team and rep (routing) and
with the subject (deal, account, cadence, lead). Labels are the instance's identity in Grafana:
they hold only what stays put while the condition holds, and the figure that moves (days in
stage, hours waiting, how far below plan) is the value, which the summary prints with
`printf`. Annotations name the activity to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from grafana_foundation_sdk.builders import alerting, expr
from grafana_foundation_sdk.models.alerting import RelativeTimeRange

from touchline.dashboards import queries as q
from touchline.dashboards.clickhouse_query import (
    DATASOURCE_UID,
    ClickHouseQueryBuilder,
    register,
)

FOLDER_UID = "touchline"
FOLDER_TITLE = "touchline"
GROUP_COACHING = "touchline-coaching"
GROUP_OPS = "touchline-ops"
GROUP_PIPELINE = "touchline-pipeline"
#: seconds between two evaluations of a group's rules (60 unless set here; Grafana's least is 10)
GROUP_INTERVAL_S = {GROUP_PIPELINE: 10}
DEFAULT_INTERVAL_S = 60
EXPRESSION_DATASOURCE = "__expr__"

#: seconds without progress (messages waiting with none recorded, or no worker report) that
#: make a stall. Workers report every second, and a busy partition moves with every batch
#: (a few seconds at most), so 15 s is well clear of a healthy pipeline under load.
STALL_AFTER_S = 15

Op = Literal["gt", "lt"]


@dataclass(frozen=True)
class AlertSpec:
    """One alert rule: query, value column, threshold, and what to tell the manager."""

    uid: str
    title: str
    group: str
    sql: str
    value: str
    threshold: float
    summary: str
    action: str
    op: Op = "gt"
    range_s: int = 600
    pending: str = "0s"
    labels: dict[str, str] = field(default_factory=dict)
    no_data: Literal["OK", "NoData", "Alerting"] = "OK"
    #: what a failing query does: "Error" raises Grafana's DatasourceError alert
    exec_err: Literal["OK", "Error", "Alerting"] = "Error"


#: coaching rules fire for every row of their rule view: the view applies the plan's thresholds
#: (sinks/ddl/0013_rules.sql), so the alert condition only asks for a positive value
COACHING_THRESHOLD = 0.0

#: the rule's value, as a summary shows it (Go's printf, which Grafana's templates have)
DAYS = '{{ printf "%.1f" $values.A.Value }} d'
HOURS = '{{ printf "%.1f" $values.A.Value }} h'
WHOLE = '{{ printf "%.0f" $values.A.Value }}'

ALERTS: list[AlertSpec] = [
    AlertSpec(
        uid="touchline-stuck-deal", title="Deal past its stage SLA", group=GROUP_COACHING,
        sql=q.ALERT_STUCK_DEAL, value="days_in_stage", threshold=COACHING_THRESHOLD,
        range_s=3600, pending="15m", labels={"signal": "stuck_deal", "audience": "manager"},
        summary=("{{ $labels.opportunity }} ({{ $labels.account }}, {{ $labels.segment }}) has sat "
                 f"in {{{{ $labels.stage }}}} for {DAYS}; the {{{{ $labels.segment }}}} SLA for "
                 "that stage is {{ $labels.stage_sla_days }} d."),
        action=("{{ $labels.rep }}: book a next-step meeting with the buyer of "
                "{{ $labels.account }} to move {{ $labels.opportunity }} out of "
                "{{ $labels.stage }}, or disposition it."),
    ),
    AlertSpec(
        uid="touchline-deal-inactive", title="Deal with no activity", group=GROUP_COACHING,
        sql=q.ALERT_DEAL_INACTIVE, value="days_inactive", threshold=COACHING_THRESHOLD,
        range_s=3600, pending="1h", labels={"signal": "deal_inactive", "audience": "manager"},
        summary=("Nothing has happened on {{ $labels.opportunity }} ({{ $labels.stage }}, "
                 "{{ $labels.account }}) since {{ $labels.last_activity_on }}, "
                 f"{DAYS} ago; the plan allows {{{{ $labels.inactive_after_days }}}} d."),
        action=("{{ $labels.rep }}: call the buyer of {{ $labels.account }} and agree a dated "
                "next step for {{ $labels.opportunity }}."),
    ),
    AlertSpec(
        uid="touchline-untouched-account", title="Account untouched past its tier threshold",
        group=GROUP_COACHING, sql=q.ALERT_UNTOUCHED_ACCOUNT, value="days_since_touch",
        threshold=COACHING_THRESHOLD, range_s=3600, pending="1h",
        labels={"signal": "untouched_account", "audience": "manager"},
        summary=("{{ $labels.account_name }} ({{ $labels.account }}, tier {{ $labels.tier }}) "
                 '{{ if eq $labels.last_touch_on "never" }}has never been touched'
                 "{{ else }}has had no touch since {{ $labels.last_touch_on }}, "
                 f"{DAYS} ago{{{{ end }}}}; tier {{{{ $labels.tier }}}} accounts are untouched "
                 "after {{ $labels.untouched_after_days }} d."),
        action=("{{ $labels.rep }}: call the main contact at {{ $labels.account_name }} today "
                "and follow up by email."),
    ),
    AlertSpec(
        uid="touchline-cadence-behind", title="Rep behind on a cadence", group=GROUP_COACHING,
        sql=q.ALERT_CADENCE_BEHIND, value="prospects_behind", threshold=COACHING_THRESHOLD,
        range_s=3600, pending="30m",
        labels={"signal": "cadence_behind", "audience": "manager"},
        summary=(f"{{{{ $labels.rep }}}}: {WHOLE} prospects in cadence {{{{ $labels.cadence }}}} "
                 "are {{ $labels.steps_behind }} or more steps behind plan."),
        action=("{{ $labels.rep }}: work the overdue steps of {{ $labels.cadence }} first: "
                "each prospect's next call or email as the cadence plans it (the Rep view lists "
                "them with the step's channel)."),
    ),
    AlertSpec(
        uid="touchline-speed-to-lead", title="New lead not touched within SLA",
        group=GROUP_COACHING, sql=q.ALERT_SPEED_TO_LEAD, value="waiting_hours",
        threshold=COACHING_THRESHOLD, range_s=3600, pending="0s",
        labels={"signal": "lead_sla", "audience": "manager"},
        summary=("Lead {{ $labels.prospect }} ({{ $labels.account }}, tier {{ $labels.tier }}) "
                 f"has waited {HOURS} without a touch; the SLA is {{{{ $labels.sla_hours }}}} h."),
        action="{{ $labels.rep }}: call {{ $labels.prospect }} now; leave a voicemail and email "
               "if there is no answer.",
    ),
    AlertSpec(
        uid="touchline-activity-mix", title="High-impact activity below plan",
        group=GROUP_COACHING, sql=q.ALERT_ACTIVITY_MIX, value="shortfall",
        threshold=COACHING_THRESHOLD, range_s=3600, pending="1h",
        labels={"signal": "activity_mix", "audience": "manager"},
        summary=("{{ $labels.rep }} ({{ $labels.role }}): "
                 '{{ if eq $labels.activity "leads_touched_within_sla" }}'
                 f"{WHOLE} points below the planned percent of new leads touched within SLA "
                 "in the last 7 days"
                 '{{ else if eq $labels.basis "count" }}'
                 f"{WHOLE} {{{{ $labels.activity }}}} short of the plan so far in the last 7 days"
                 "{{ else }}"
                 f"{{{{ $labels.activity }}}} is {WHOLE} points below its planned share of calls "
                 "and emails in the last 7 days"
                 "{{ end }}."),
        action="{{ $labels.rep }}: move time to {{ $labels.activity }} this week.",
    ),
    AlertSpec(
        uid="touchline-idle-rep", title="Rep with no activity", group=GROUP_COACHING,
        sql=q.ALERT_IDLE_REP, value="days_idle", threshold=COACHING_THRESHOLD, range_s=3600,
        pending="1h", labels={"signal": "idle_rep", "audience": "manager"},
        summary=("{{ $labels.rep }} has logged no call, email or meeting since "
                 "{{ $labels.last_touch_on }} ({{ $labels.last_channel }}), "
                 f"{DAYS} ago; the plan allows {{{{ $labels.idle_after_days }}}} d."),
        action=("Check in with {{ $labels.rep }}: time off, blocked, or activities not "
                "logged?"),
    ),
    AlertSpec(
        uid="touchline-dlq-spike", title="DLQ rate spike", group=GROUP_OPS,
        sql=q.ALERT_DLQ_SPIKE, value="dlq_percent", threshold=5.0, range_s=300, pending="2m",
        labels={"signal": "dlq_spike", "audience": "ops", "team": "ops"},
        summary=('{{ printf "%.1f" $values.A.Value }} % of the events read in 5 min were '
                 "rejected as {{ $labels.reason }}."),
        action=("Read the newest dlq_events rows with reason {{ $labels.reason }} (error and "
                "payload columns) and fix the sending system or its mapping."),
    ),
    # evaluated every 10 s; over STALL_AFTER_S at one evaluation, still at the next (10 s
    # pending): fires 25-36 s after the last progress. A query that fails (ClickHouse down:
    # nothing can be recorded either) fires it the same way, after the same pending period.
    AlertSpec(
        uid="touchline-pipeline-freshness", title="Pipeline stalled", group=GROUP_PIPELINE,
        sql=q.ALERT_PIPELINE_FRESHNESS, value="seconds_without_progress",
        threshold=float(STALL_AFTER_S), range_s=600, pending="10s", no_data="Alerting",
        exec_err="Alerting",
        labels={"signal": "pipeline_freshness", "audience": "ops", "team": "ops"},
        summary=("The pipeline has recorded nothing for {{ $values.A.Value }} s: messages wait "
                 "on the broker and no partition moves, or no worker reports at all. No figure "
                 "means ClickHouse did not answer this check: nothing can be written there "
                 "either."),
        action=("Ops control panel, 'Stalled partitions': which topic and partition, how many "
                "messages wait, since when. Then check in this order (docs/operations.md, "
                "'Pipeline stalled'): ClickHouse answers (touchline query \"SELECT 1\"); the "
                "workers run and their logs name the failing write ('retrying'); the broker "
                "answers. It resolves once the partitions move again."),
    ),
]


def rule(spec: AlertSpec) -> alerting.Rule:
    """The SDK rule builder for a spec."""
    register()
    query = (alerting.Query("A")
             .datasource_uid(DATASOURCE_UID)
             .relative_time_range(RelativeTimeRange(from_val=spec.range_s, to=0))
             .model(ClickHouseQueryBuilder(spec.sql).ref_id("A")))
    condition = (alerting.Query("B")
                 .datasource_uid(EXPRESSION_DATASOURCE)
                 .model(expr.TypeThreshold()
                        .ref_id("B")
                        .expression("A")
                        .conditions([expr.ExprTypeThresholdConditions().evaluator(
                            expr.ExprTypeThresholdConditionsEvaluator()
                            .type(spec.op).params([spec.threshold]))])))
    return (alerting.Rule(spec.title)
            .uid(spec.uid)
            .org_id(1)
            .rule_group(spec.group)
            .folder_uid(FOLDER_UID)
            .condition("B")
            .with_query(query)
            .with_query(condition)
            .no_data_state(spec.no_data)
            .exec_err_state(spec.exec_err)
            .for_val(spec.pending)
            .labels(dict(spec.labels))
            .annotations({"summary": spec.summary, "action": spec.action}))


def rule_groups() -> list[alerting.RuleGroup]:
    """One SDK rule group per group name, rules in declaration order."""
    groups: dict[str, alerting.RuleGroup] = {}
    for spec in ALERTS:
        interval = GROUP_INTERVAL_S.get(spec.group, DEFAULT_INTERVAL_S)
        group = groups.setdefault(spec.group, alerting.RuleGroup(spec.group)
                                  .folder_uid(FOLDER_UID).interval(interval))
        group.with_rule(rule(spec))
    return list(groups.values())
