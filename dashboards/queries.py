"""Every SQL string of the dashboards and alert rules, written once.

Queries use the grafana-clickhouse-datasource syntax: plugin macros (`$__timeFilter(col)`,
`$__timeInterval(col)`, `$__fromTime`, `$__interval_s`, `$__conditionalAll(...)`) and dashboard
variables (`${tenant:singlequote}`). `touchline.macros.expand` expands them the way the plugin
does, so tests and the local view run the very same text.

The coaching rules (stuck deal, deal inactivity, untouched account, cadence behind,
speed-to-lead, activity vs plan, idle rep) are not written here: panels and alert rules select
from the rule views of sinks/ddl/0013_rules.sql (`rule(...)`), the same views the signal
evaluator reads, with every threshold and default from the plan in force.
"""

from __future__ import annotations

#: how far back touch recency looks (touch_counts)
TOUCH_LOOKBACK_DAYS = 90

NOW = "now64(3, 'UTC')"


def _in(fragment: str, indent: int) -> str:
    """A multi-line fragment re-indented to sit inside a line indented by `indent` spaces."""
    return fragment.replace("\n", "\n" + " " * indent)


TENANT = "tenant = ${tenant:singlequote}"


def rule(view: str, tenant: str = "${tenant:singlequote}", **more: str) -> str:
    """A coaching rule's view (sinks/ddl/0013_rules.sql) judged at the end of the time range.

    The rule's thresholds come from the plan in force; `tenant` '' reads every tenant (alerts).
    """
    args = "".join(f"{k} = {v}, " for k, v in more.items())
    return f"touchline.{view}(tenant = {tenant}, {args}now = $__toTime_ms)"


ALL_TENANTS = "''"
TEAM_VALUE = "${team:singlequote}"
TEAM = f"team_id = {TEAM_VALUE}"
REPS_ANY = "$__conditionalAll(rep_id IN (${rep:singlequote}), $rep)"
REP_ONE = "rep_id = ${rep:singlequote}"


def rep_teams(since: str, until: str = "$__toTime") -> str:
    """The teams the rep's activities name from `since` to `until`, as a filter on activities.

    The activities key is (tenant, day, team, rep, ...): the rep view's panels that read
    columns the `by_rep` projection does not hold would read every team's rows of their days;
    with this they read the rep's team(s) only. Every activity has its row in
    activity_by_rep_hour (0010, fed by the same insert), so no row of the rep is left out.
    """
    return ("team_id IN (SELECT team_id FROM touchline.activity_by_rep_hour "
            f"WHERE {TENANT} AND {REP_ONE} AND bucket >= toStartOfHour({since}) "
            f"AND bucket <= {until})")


#: a `*_in_scope` rule view (sinks/ddl/0043) reads only the dashboard's team, or its rep
TEAM_SCOPE = {"team": TEAM_VALUE, "rep": "''"}
REP_SCOPE = {"team": "''", "rep": "${rep:singlequote}"}

#: one activity row -> the plan's high-impact activity names it counts for (array join it)
PLAN_ACTIVITIES = """arrayFilter(x -> x != '', [
        if(type = 'call' AND direction = 'outbound', 'call_attempts', ''),
        if(type = 'call' AND direction = 'outbound' AND outcome = 'connected',
           'connected_calls', ''),
        if(type = 'email' AND email_action = 'sent', 'emails_sent', ''),
        if(type = 'meeting' AND meeting_status = 'held', 'meetings_held', '')])"""

# --- current plan and dimensions -------------------------------------------------------------

CURRENT_TARGETS = f"""(
    SELECT tenant, role, activity, argMax(weekly_target, effective_from) AS weekly_target
    FROM touchline.plan_activity_targets
    WHERE effective_from <= {NOW}
    GROUP BY tenant, role, activity)"""

CURRENT_REPS = """(
    SELECT tenant, rep_id, argMax(name, updated_at) AS name, argMax(team_id, updated_at) AS team_id,
           argMax(role, updated_at) AS role
    FROM touchline.reps
    GROUP BY tenant, rep_id)"""

# --- ops control panel ---------------------------------------------------------------------------

OPS_EVENTS_PER_S = """SELECT round(sum(events_in) / 300, 2) AS events_per_s
FROM touchline.pipeline_metrics
WHERE ts >= now64(3, 'UTC') - INTERVAL 5 MINUTE"""

OPS_FRESHNESS = f"""SELECT if(count() = 0, NULL, dateDiff('second', max(ingested_at), {NOW}))
       AS seconds_since_last_event
FROM touchline.activities
WHERE {TENANT} AND $__timeFilter(occurred_at)"""

OPS_LAG = """SELECT sum(last_lag) AS consumer_lag
FROM (
    SELECT argMax(lag, ts) AS last_lag
    FROM touchline.pipeline_metrics
    WHERE $__timeFilter(ts)
    GROUP BY topic, partition)"""

OPS_DLQ_SHARE = """SELECT round(100 * d.rejected / greatest(1, m.events_in, d.rejected), 2)
       AS dlq_percent
FROM (SELECT count() AS rejected FROM touchline.dlq_events WHERE $__timeFilter(failed_at)) AS d
CROSS JOIN (
    SELECT sum(events_in) AS events_in FROM touchline.pipeline_metrics WHERE $__timeFilter(ts)
) AS m"""

#: arrival rate by ingest time, counting rows with occurred_at >= (range start - 7 days) (the
#: allowed lateness), from the per-second rollup (sinks/ddl/0010): in the range's last second
#: only rows ingested at .000 ms pass `ingested_at <= $__toTime`, as on the raw rows
OPS_EVENTS_BY_SOURCE = f"""SELECT $__timeInterval(ingested_second) AS time, source,
       sum(if(ingested_second = $__toTime, events_on_the_second, events)) / $__interval_s
           AS events_per_s
FROM touchline.arrivals_by_source_second
WHERE {TENANT}
  AND occurred_bound >= $__fromTime - INTERVAL 7 DAY
  AND $__timeFilter(ingested_second)
GROUP BY time, source
HAVING events_per_s > 0
ORDER BY time"""

OPS_LAG_BY_PARTITION = """SELECT $__timeInterval(ts) AS time,
       concat(topic, '/', toString(partition)) AS topic_partition, max(lag) AS lag
FROM touchline.pipeline_metrics
WHERE $__timeFilter(ts)
GROUP BY time, topic_partition
ORDER BY time"""

OPS_UNMAPPED_STAGES = """SELECT source, stage, changes, opportunities AS deals,
       if(closed_by_source = 1, 'closed', 'open') AS source_says, last_seen
FROM touchline.unmapped_stages
WHERE tenant = ${tenant:singlequote}
ORDER BY changes DESC
LIMIT 50"""
OPS_DLQ_BY_REASON = """SELECT $__timeInterval(failed_at) AS time, reason, count() AS rejected
FROM touchline.dlq_events
WHERE $__timeFilter(failed_at)
GROUP BY time, reason
ORDER BY time"""

OPS_TOUCHES_BY_CHANNEL = f"""SELECT $__timeInterval(bucket) AS time, channel,
       sum(touches) AS touches
FROM touchline.touch_counts
WHERE {TENANT} AND entity_type = 'team' AND $__timeFilter(bucket)
GROUP BY time, channel
ORDER BY time"""

OPS_PIPELINE_HEALTH = """SELECT topic, partition, argMax(worker, ts) AS last_worker,
       max(ts) AS last_report, argMax(committed, ts) AS committed_offset,
       argMax(highwater, ts) AS highwater_offset, argMax(lag, ts) AS current_lag,
       sum(events_in) AS events_in_range, sum(rejected) AS rejected_in_range,
       max(max_event_time) AS newest_event_time
FROM touchline.pipeline_metrics
WHERE $__timeFilter(ts)
GROUP BY topic, partition
ORDER BY topic, partition"""

# --- manager coaching view -----------------------------------------------------------------------

COACH_ACTIVITY_VS_PLAN = f"""SELECT r.rep_id AS rep, r.name AS rep_name, t.activity AS activity,
       ifNull(d.done, 0) AS done_this_week, t.weekly_target AS weekly_target,
       round(t.weekly_target * dateDiff('second', toStartOfWeek(now('UTC'), 1), now('UTC'))
             / (7 * 86400), 1) AS due_by_now
FROM {_in(CURRENT_REPS, 0)} AS r
INNER JOIN {_in(CURRENT_TARGETS, 0)} AS t ON t.tenant = r.tenant AND t.role = r.role
LEFT JOIN (
    SELECT rep_id, done_by_activity.1 AS activity, done_by_activity.2 AS done
    FROM (
        SELECT rep_id, sum(call_attempts) AS call_attempts,
               sum(connected_attempts) AS connected_attempts, sum(emails_sent) AS emails_sent,
               sum(meetings_held) AS meetings_held
        FROM touchline.activity_by_rep_hour
        WHERE {TENANT} AND {TEAM} AND bucket >= toStartOfWeek(now('UTC'), 1)
        GROUP BY rep_id)
    ARRAY JOIN [('call_attempts', call_attempts), ('connected_calls', connected_attempts),
                ('emails_sent', emails_sent), ('meetings_held', meetings_held)]
        AS done_by_activity
    WHERE done > 0) AS d ON d.rep_id = r.rep_id AND d.activity = t.activity
WHERE r.{TENANT} AND r.{TEAM} AND $__conditionalAll(r.rep_id IN (${{rep:singlequote}}), $rep)
  AND t.activity IN ('call_attempts', 'connected_calls', 'emails_sent', 'meetings_held')
ORDER BY rep, activity"""

#: `activities` is keyed by (tenant, toDate(occurred_at), team_id, ...), but ClickHouse does not
#: derive the day from `occurred_at >= toDateTime(..)`: without the day stated, a team filter
#: prunes little (measured: 367 of 932 granules read for a team's first partial hour, 12 with it)
DAYS_OF_RANGE = ("toDate(occurred_at) BETWEEN toDate($__fromTime, 'UTC') "
                 "AND toDate($__toTime, 'UTC')")
COACH_TOUCH_DISTRIBUTION = f"""SELECT touches_received, count() AS prospects
FROM (
    SELECT prospect_id,
           if(countIf(is_touch = 1) >= 8, '8+', toString(countIf(is_touch = 1)))
               AS touches_received
    FROM touchline.activities
    WHERE {TENANT} AND $__timeFilter(occurred_at) AND {TEAM} AND {REPS_ANY}
      AND prospect_id != '' AND {DAYS_OF_RANGE}
    GROUP BY prospect_id)
GROUP BY touches_received
ORDER BY touches_received"""

COACH_DEALS_BY_STAGE = f"""SELECT segment, stage, count() AS open_deals,
       round(median(dwell_s) / 86400, 1) AS median_days_in_stage,
       round(max(dwell_s) / 86400, 1) AS longest_days_in_stage,
       round(any(sla_s) / 86400, 1) AS stage_sla_days,
       countIf(past_sla) AS past_stage_sla
FROM {rule("open_deal_dwell_in_scope", **TEAM_SCOPE)}
WHERE {REPS_ANY}
GROUP BY segment, stage
ORDER BY segment, stage"""

#: an account shows here once half of its tier's limit has passed (the rule fires at the limit);
#: the limit (UInt64) is cast where it stands in for the untouched time (Int64): ClickHouse 25.8
#: finds no common type for the two
COACH_UNTOUCHED_ACCOUNTS = f"""SELECT account_id AS account, account_name, rep_id AS rep, tier,
       round(untouched_s / 86400, 1) AS days_since_touch,
       round(threshold_s / 86400, 1) AS untouched_after_days,
       touches > 0 AS touched_in_lookback
FROM {rule("accounts_vs_touch_limit_in_scope", team=TEAM_VALUE)}
WHERE {REPS_ANY} AND ifNull(untouched_s, toInt64(threshold_s)) >= threshold_s / 2
ORDER BY ifNull(untouched_s, toInt64(threshold_s)) / threshold_s DESC
LIMIT 50"""

COACH_TOUCHES_BY_REP = f"""SELECT $__timeInterval(bucket) AS time, entity_id AS rep,
       sum(touches) AS touches
FROM touchline.touch_counts
WHERE {TENANT} AND entity_type = 'rep' AND $__timeFilter(bucket)
  AND $__conditionalAll(entity_id IN (${{rep:singlequote}}), $rep)
  AND entity_id IN (SELECT rep_id FROM {_in(CURRENT_REPS, 2)} WHERE {TENANT} AND {TEAM})
GROUP BY time, rep
ORDER BY time"""

#: one team's raw rows of the range (the key prunes by day and team). Prospects are counted by
#: a 64-bit hash: uniqExact of a String already keeps a 128-bit hash per value, and a UInt64
#: set is ~30% faster here (100M rows: p50 38 vs 54 ms); a collision among a rep's ~10^4
#: prospects of a week has a probability of ~10^-11. The hourly rollup with uniqExact states
#: this replaced was slower: nearly every touch is a new (rep, hour, prospect), so merging the
#: states costs what counting the rows does, plus the two raw partial hours at the ends.
COACH_REP_SPREAD = f"""SELECT rep_id AS rep, countIf(is_touch = 1) AS touches,
       countIf(type = 'call' AND outcome = 'connected') AS connected_calls,
       countIf(type = 'meeting' AND meeting_status = 'held') AS meetings_held,
       uniqExactIf(cityHash64(prospect_id), is_touch = 1 AND prospect_id != '')
           AS prospects_touched,
       round(touches / greatest(1, median(touches) OVER ()), 2) AS touches_vs_team_median
FROM touchline.activities
WHERE {TENANT} AND $__timeFilter(occurred_at) AND {TEAM} AND {REPS_ANY} AND {DAYS_OF_RANGE}
GROUP BY rep
ORDER BY touches DESC"""

COACH_OPEN_SIGNALS = f"""SELECT fired_at, kind, rep_id AS rep, subject_type, subject_id, activity,
       message
FROM touchline.signals_current
WHERE {TENANT} AND {TEAM} AND {REPS_ANY} AND status = 'firing'
ORDER BY fired_at DESC
LIMIT 100"""

#: a rep's meetings-per-touch rate counts towards the lowest / highest only from this many touches
MOTION_MIN_REP_TOUCHES = 20

#: per sales motion and product line (unset: 'unspecified'): touches, meetings held per 100
#: touches, and the reps with the lowest and highest rate (reps with enough touches only)
COACH_MOTION_VARIATION = f"""SELECT m AS motion, pl AS product_line, count() AS reps,
       sum(rep_touches) AS touches, sum(rep_meetings) AS meetings_held,
       round(100 * meetings_held / greatest(touches, 1), 1) AS meetings_per_100_touches,
       argMinIf(rep_id, rep_rate, rep_touches >= {MOTION_MIN_REP_TOUCHES}) AS lowest_rep,
       if(countIf(rep_touches >= {MOTION_MIN_REP_TOUCHES}) = 0, NULL,
          round(minIf(rep_rate, rep_touches >= {MOTION_MIN_REP_TOUCHES}), 1)) AS lowest_rep_per_100,
       argMaxIf(rep_id, rep_rate, rep_touches >= {MOTION_MIN_REP_TOUCHES}) AS highest_rep,
       if(countIf(rep_touches >= {MOTION_MIN_REP_TOUCHES}) = 0, NULL,
          round(maxIf(rep_rate, rep_touches >= {MOTION_MIN_REP_TOUCHES}), 1)) AS highest_rep_per_100
FROM (
    SELECT if(motion = '', 'unspecified', motion) AS m,
           if(product_line = '', 'unspecified', product_line) AS pl, rep_id,
           countIf(is_touch = 1) AS rep_touches,
           countIf(type = 'meeting' AND meeting_status = 'held') AS rep_meetings,
           100 * rep_meetings / rep_touches AS rep_rate
    FROM touchline.activities
    WHERE {TENANT} AND $__timeFilter(occurred_at) AND {TEAM} AND {REPS_ANY}
    GROUP BY m, pl, rep_id
    HAVING rep_touches > 0)
GROUP BY motion, product_line
ORDER BY motion, product_line"""

# --- rep view ------------------------------------------------------------------------------------

#: the rep's prospects whose next cadence step is due (cadences that ended on a reply, meeting,
#: bounce, unsubscribe or closing disposition are not listed)
REP_PROSPECTS_DUE = f"""SELECT prospect_id AS prospect, account_id AS account,
       cadence_id AS cadence, steps_done + 1 AS next_step, next_channel, next_due_at,
       round(dateDiff('second', next_due_at, $__toTime_ms) / 86400, 1) AS days_overdue
FROM {rule("cadence_progress", rep="${rep:singlequote}")}
WHERE active AND next_due_at <= $__toTime_ms
ORDER BY next_due_at
LIMIT 100"""

REP_DEALS_LONGEST = f"""SELECT opportunity_id AS opportunity, account_id AS account, segment, stage,
       round(dwell_s / 86400, 1) AS days_in_stage, round(sla_s / 86400, 1) AS stage_sla_days
FROM {rule("open_deal_dwell_in_scope", **REP_SCOPE)}
ORDER BY dwell_s / greatest(ifNull(sla_s, 0), 1) DESC
LIMIT 20"""

#: where the range before the time range starts
PREVIOUS_PERIOD_START = ("$__fromTime - toIntervalSecond(dateDiff('second', $__fromTime, "
                         "$__toTime))")

#: the rep's high-impact activities in the time range and in the range before it, against the
#: weekly target of the rep's role pro-rated to the range's length
REP_PERIOD_VS_PLAN = f"""SELECT t.activity AS activity, ifNull(d.this_period, 0) AS this_period,
       ifNull(d.previous_period, 0) AS previous_period,
       round(t.weekly_target * dateDiff('second', $__fromTime, $__toTime) / 604800, 1)
           AS planned
FROM {_in(CURRENT_REPS, 0)} AS r
INNER JOIN {_in(CURRENT_TARGETS, 0)} AS t ON t.tenant = r.tenant AND t.role = r.role
LEFT JOIN (
    SELECT activity, countIf(occurred_at >= $__fromTime) AS this_period,
           countIf(occurred_at < $__fromTime) AS previous_period
    FROM touchline.activities
    ARRAY JOIN {_in(PLAN_ACTIVITIES, 4)} AS activity
    WHERE {TENANT} AND {REP_ONE} AND occurred_at <= $__toTime
      AND occurred_at >= {PREVIOUS_PERIOD_START}
      AND {rep_teams(PREVIOUS_PERIOD_START)}
    GROUP BY activity) AS d ON d.activity = t.activity
WHERE r.{TENANT} AND r.{REP_ONE} AND t.activity != 'leads_touched_within_sla'
ORDER BY activity"""

#: day by day in the range: each high-impact activity done, and the role's weekly target spread
#: over five working days
REP_DAY_BY_DAY = f"""SELECT toString(toDate(d.occurred_at)) AS day, d.activity AS activity,
       count() AS done, round(any(t.weekly_target) / 5, 1) AS planned_per_day
FROM (
    SELECT occurred_at, activity
    FROM touchline.activities
    ARRAY JOIN {_in(PLAN_ACTIVITIES, 4)} AS activity
    WHERE {TENANT} AND {REP_ONE} AND $__timeFilter(occurred_at) AND {DAYS_OF_RANGE}
      AND {rep_teams("$__fromTime")}) AS d
LEFT JOIN (
    SELECT t.activity AS activity, t.weekly_target AS weekly_target
    FROM {_in(CURRENT_REPS, 4)} AS r
    INNER JOIN {_in(CURRENT_TARGETS, 4)} AS t ON t.tenant = r.tenant AND t.role = r.role
    WHERE r.{TENANT} AND r.{REP_ONE}) AS t ON t.activity = d.activity
GROUP BY day, activity
ORDER BY day, activity"""

REP_OPEN_SIGNALS = f"""SELECT fired_at, kind, subject_id, message
FROM touchline.signals_current
WHERE {TENANT} AND {REP_ONE} AND status = 'firing'
ORDER BY fired_at DESC
LIMIT 50"""

#: the rep's deals that changed stage in the time range
REP_DEAL_MOVES = f"""SELECT occurred_at AS moved_at, opportunity_id AS opportunity,
       account_id AS account, from_stage, to_stage
FROM touchline.activities
WHERE {TENANT} AND {REP_ONE} AND type = 'stage_change' AND $__timeFilter(occurred_at)
  AND {DAYS_OF_RANGE} AND {rep_teams("$__fromTime")}
ORDER BY moved_at DESC
LIMIT 50"""

REP_STUCK_DEALS = f"""SELECT opportunity_id AS opportunity, account_id AS account, segment, stage,
       round(dwell_s / 86400, 1) AS days_in_stage, round(sla_s / 86400, 1) AS stage_sla_days
FROM {rule("rule_stuck_deals_in_scope", **REP_SCOPE)}
ORDER BY dwell_s / sla_s DESC"""

REP_TOUCHES_THIS_WEEK = f"""SELECT countIf(is_touch = 1) AS touches_this_week
FROM touchline.activities
WHERE {TENANT} AND occurred_at >= toStartOfWeek(now('UTC'), 1) AND {REP_ONE}"""

# --- variables -----------------------------------------------------------------------------------

#: the loaded org (docs/org.md): teams of the org file, even one with no rep yet, and the teams
#: of the reps in force now (`reps`, which the simulator fills too)
ORG_TEAMS = """(
    SELECT tenant, team_id FROM touchline.teams
    UNION ALL
    SELECT tenant, team_id FROM touchline.reps)"""
VAR_TENANTS = f"SELECT DISTINCT tenant FROM {_in(ORG_TEAMS, 0)} ORDER BY tenant"
VAR_TEAMS = f"SELECT DISTINCT team_id FROM {_in(ORG_TEAMS, 0)} WHERE {TENANT} ORDER BY team_id"
VAR_TEAM_REPS = f"""SELECT rep_id FROM {_in(CURRENT_REPS, 0)}
WHERE {TENANT} AND {TEAM} ORDER BY rep_id"""
VAR_REPS = f"SELECT DISTINCT rep_id FROM touchline.reps WHERE {TENANT} ORDER BY rep_id"

#: reps with cadence work first (most prospects behind in an active cadence, then most
#: prospects in one), then the rest: the 1:1 view opens on a rep there is something to talk
#: over with, not on the first name alphabetically
VAR_REPS_BY_CADENCE_WORK = f"""SELECT r.rep_id AS rep_id
FROM (SELECT DISTINCT rep_id FROM touchline.reps WHERE {TENANT}) AS r
LEFT JOIN (
    SELECT rep_id, countIf(active AND steps_behind > 0) AS behind,
           countIf(active) AS cadence_work
    FROM touchline.cadence_progress(tenant = ${{tenant:singlequote}}, rep = '',
                                    now = now64(3, 'UTC'))
    GROUP BY rep_id) AS c ON c.rep_id = r.rep_id
ORDER BY c.behind DESC, c.cadence_work DESC, r.rep_id"""

# --- alert rules (one numeric column = the value; string columns = labels) ----------------------
# Labels are an alert instance's identity in Grafana: a coaching rule labels only what names its
# subject and stays put while the condition holds (ids, stage, tier, plan thresholds, the date of
# a last touch); the figure that moves (days in stage, hours waiting, shortfall) is the value.

def _with_manager(sql: str) -> str:
    """An alert query with a `manager` label: the team's manager in the org ('' if none).

    Notification policies route a manager's teams by it (dashboards/notifications.py).
    """
    return f"""SELECT a.*, m.manager AS manager
FROM (
    {_in(sql.strip(), 4)}) AS a
LEFT JOIN (SELECT tenant, team_id, any(manager_rep_id) AS manager
           FROM touchline.teams GROUP BY tenant, team_id) AS m
    ON a.tenant = m.tenant AND a.team = m.team_id"""


ALERT_STUCK_DEAL = _with_manager(f"""
SELECT tenant, team_id AS team, rep_id AS rep, opportunity_id AS opportunity,
       account_id AS account, segment, stage,
       toString(round(sla_s / 86400, 1)) AS stage_sla_days,
       dwell_s / 86400 AS days_in_stage
FROM {rule("rule_stuck_deals", ALL_TENANTS)}""")

ALERT_DEAL_INACTIVE = _with_manager(f"""
SELECT tenant, team_id AS team, rep_id AS rep,
       opportunity_id AS opportunity, account_id AS account, segment, stage,
       toString(toDate(last_activity_at)) AS last_activity_on,
       toString(round(inactive_after_s / 86400, 1)) AS inactive_after_days,
       inactive_s / 86400 AS days_inactive
FROM {rule("rule_inactive_deals", ALL_TENANTS)}""")

#: the value is the days without a touch (since the first activity seen when there was no
#: touch); an account with no activity at all counts as just past its tier's limit
ALERT_UNTOUCHED_ACCOUNT = _with_manager(f"""
SELECT tenant, team_id AS team, rep_id AS rep, account_id AS account,
       account_name, tier,
       if(last_touch_at IS NULL, 'never', toString(toDate(last_touch_at))) AS last_touch_on,
       toString(round(threshold_s / 86400, 1)) AS untouched_after_days,
       ifNull(untouched_s, toInt64(threshold_s) + 1) / 86400 AS days_since_touch
FROM {rule("rule_untouched_accounts", ALL_TENANTS)}""")

ALERT_CADENCE_BEHIND = _with_manager(f"""
SELECT tenant, team_id AS team, rep_id AS rep, cadence_id AS cadence,
       toString(threshold_steps) AS steps_behind, toFloat64(behind) AS prospects_behind
FROM {rule("rule_cadences_behind", ALL_TENANTS)}""")

ALERT_SPEED_TO_LEAD = _with_manager(f"""
SELECT tenant, team_id AS team, rep_id AS rep, prospect_id AS prospect,
       account_id AS account, tier, toString(round(sla_s / 3600, 1)) AS sla_hours,
       waiting_s / 3600 AS waiting_hours
FROM {rule("rule_leads_over_sla", ALL_TENANTS)}""")

#: the value is how far the rep trails: planned so far - done (basis count), or the planned
#: minus the actual share of calls and emails, in percentage points (basis share)
ALERT_ACTIVITY_MIX = _with_manager(f"""
SELECT tenant, team_id AS team, rep_id AS rep, activity, role, basis,
       if(basis = 'count', planned - actual, 100 * (planned_share - actual_share))
           AS shortfall
FROM {rule("rule_activity_mix", ALL_TENANTS)}""")

ALERT_IDLE_REP = _with_manager(f"""
SELECT tenant, team_id AS team, rep_id AS rep, last_channel,
       toString(toDate(last_touch_at)) AS last_touch_on,
       toString(round(idle_after_s / 86400, 1)) AS idle_after_days,
       idle_s / 86400 AS days_idle
FROM {rule("rule_idle_reps", ALL_TENANTS)}""")

#: the reason is the one label: a count as a label would change the alert's identity each time
ALERT_DLQ_SPIKE = """SELECT d.reason AS reason,
       100 * d.rejected / greatest(1, d.rejected, m.events_in) AS dlq_percent
FROM (
    SELECT reason, count() AS rejected
    FROM touchline.dlq_events
    WHERE $__timeFilter(failed_at)
    GROUP BY reason
    HAVING rejected >= 10) AS d
CROSS JOIN (
    SELECT sum(events_in) AS events_in FROM touchline.pipeline_metrics WHERE $__timeFilter(ts)
) AS m"""

# --- pipeline stall: the ops alert and the ops panel read the same numbers ----------------------

#: each partition the workers reported in the range, as of its end: the messages waiting at its
#: last report (the broker's end offset the worker last fetched minus the position it reached)
#: and, when some wait, since when none was recorded: the last report that found the partition
#: caught up or its position moved since the report before (the range's first report if none
#: did). Workers report every second (streams/agents/report_progress.py), while idle too, so
#: an idle partition reads 0 waiting and a busy one moves with every batch.
PARTITION_PROGRESS = """SELECT topic, partition, max(ts) AS last_report,
       argMax(lag, ts) AS waiting,
       if(waiting > 0, maxIf(ts, lag = 0 OR moved), max(ts)) AS recorded_until
FROM (
    SELECT ts, topic, partition, lag,
           committed != lagInFrame(committed, 1, -1) OVER (
               PARTITION BY topic, partition ORDER BY ts
               ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS moved
    FROM touchline.pipeline_metrics
    WHERE $__timeFilter(ts))
GROUP BY topic, partition"""

#: how long the pipeline has gone without progress, as of the range's end: the longest time
#: messages have waited on a partition with none recorded, or the time since any worker last
#: reported (workers gone, or unable to write to ClickHouse at all: nothing can be recorded
#: and the wait cannot be seen, so it counts as a stall). The whole range when nothing was
#: reported in it. An idle pipeline reads about 1 s (the report cadence).
ALERT_PIPELINE_FRESHNESS = f"""SELECT toFloat64(greatest(
           if(count() = 0, dateDiff('second', $__fromTime, $__toTime_ms),
              dateDiff('second', max(last_report), $__toTime_ms)),
           maxIf(dateDiff('second', recorded_until, $__toTime_ms), waiting > 0)))
       AS seconds_without_progress
FROM (
    {_in(PARTITION_PROGRESS, 4)})"""

#: the partitions where messages wait, longest wait first: what is stalled and since when
OPS_STALLED_PARTITIONS = f"""SELECT topic, partition, waiting AS messages_waiting,
       recorded_until AS nothing_recorded_since,
       dateDiff('second', recorded_until, $__toTime_ms) AS seconds_waiting,
       last_report
FROM (
    {_in(PARTITION_PROGRESS, 4)})
WHERE waiting > 0
ORDER BY recorded_until, topic, partition"""
