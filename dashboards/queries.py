"""Every SQL string of the dashboards and alert rules, written once.

Queries use the grafana-clickhouse-datasource syntax: plugin macros (`$__timeFilter(col)`,
`$__timeInterval(col)`, `$__fromTime`, `$__interval_s`, `$__conditionalAll(...)`) and dashboard
variables (`${tenant:singlequote}`). `touchline.macros.expand` expands them the way the plugin
does, so tests and the local view run the very same text.

Shared building blocks (current plan rows, current dimensions, open deals vs SLA, cadence progress,
account touch recency) are subqueries used by panels and alert rules alike. Plan vocabulary
(activity names, defaults) follows examples/plan.yaml.
"""

from __future__ import annotations

#: plan defaults for rows missing from the dimension tables (examples/plan.yaml `defaults`)
DEFAULT_SEGMENT = "mid_market"
DEFAULT_TIER = "B"
#: slack after a cadence step is due before it counts as late (plan `coaching.cadence_grace`)
CADENCE_GRACE_S = 86400
#: how far back cadence progress and touch recency look
CADENCE_LOOKBACK_DAYS = 30
TOUCH_LOOKBACK_DAYS = 90
#: dispositions that end a prospect's cadence
CADENCE_ENDING_DISPOSITIONS = "('qualify', 'disqualify', 'archive')"

NOW = "now64(3, 'UTC')"


def _in(fragment: str, indent: int) -> str:
    """A multi-line fragment re-indented to sit inside a line indented by `indent` spaces."""
    return fragment.replace("\n", "\n" + " " * indent)


TENANT = "tenant = ${tenant:singlequote}"
TEAM = "team_id = ${team:singlequote}"
REPS_ANY = "$__conditionalAll(rep_id IN (${rep:singlequote}), $rep)"
REP_ONE = "rep_id = ${rep:singlequote}"

#: one activity row -> the plan's high-impact activity names it counts for (array join it)
PLAN_ACTIVITIES = """arrayFilter(x -> x != '', [
        if(type = 'call' AND direction = 'outbound', 'call_attempts', ''),
        if(type = 'call' AND direction = 'outbound' AND outcome = 'connected',
           'connected_calls', ''),
        if(type = 'email' AND email_action = 'sent', 'emails_sent', ''),
        if(type = 'meeting' AND meeting_status = 'held', 'meetings_held', '')])"""

# --- current plan and dimensions -------------------------------------------------------------

CURRENT_STAGE_SLAS = f"""(
    SELECT tenant, segment, stage, argMax(sla_s, effective_from) AS sla_s
    FROM touchline.plan_stage_slas
    WHERE effective_from <= {NOW}
    GROUP BY tenant, segment, stage)"""

CURRENT_TIERS = f"""(
    SELECT tenant, tier, argMax(untouched_after_s, effective_from) AS untouched_after_s,
           argMax(speed_to_lead_s, effective_from) AS speed_to_lead_s
    FROM touchline.plan_tiers
    WHERE effective_from <= {NOW}
    GROUP BY tenant, tier)"""

CURRENT_CADENCE_STEPS = f"""(
    SELECT tenant, cadence_id, step, channel,
           sum(wait_s) OVER (PARTITION BY tenant, cadence_id ORDER BY step) AS due_after_s
    FROM (
        SELECT tenant, cadence_id, step, argMax(channel, effective_from) AS channel,
               argMax(wait_s, effective_from) AS wait_s
        FROM touchline.plan_cadence_steps
        WHERE effective_from <= {NOW}
        GROUP BY tenant, cadence_id, step))"""

CURRENT_TARGETS = f"""(
    SELECT tenant, role, activity, argMax(weekly_target, effective_from) AS weekly_target
    FROM touchline.plan_activity_targets
    WHERE effective_from <= {NOW}
    GROUP BY tenant, role, activity)"""

CURRENT_ACCOUNTS = f"""(
    SELECT tenant, account_id, argMax(name, updated_at) AS name,
           if(argMax(tier, updated_at) = '', '{DEFAULT_TIER}', argMax(tier, updated_at)) AS tier,
           if(argMax(segment, updated_at) = '', '{DEFAULT_SEGMENT}',
              argMax(segment, updated_at)) AS segment,
           argMax(team_id, updated_at) AS team_id, argMax(owner_rep_id, updated_at) AS rep_id
    FROM touchline.accounts
    GROUP BY tenant, account_id)"""

CURRENT_REPS = """(
    SELECT tenant, rep_id, argMax(name, updated_at) AS name, argMax(team_id, updated_at) AS team_id,
           argMax(role, updated_at) AS role
    FROM touchline.reps
    GROUP BY tenant, rep_id)"""

# --- shared facts --------------------------------------------------------------------------------

#: open deals with their time in stage and the SLA of that stage for the account's segment
OPEN_DEALS_VS_SLA = f"""(
    SELECT o.tenant AS tenant, o.team_id AS team_id, o.rep_id AS rep_id,
           o.opportunity_id AS opportunity_id, o.account_id AS account_id,
           o.stage AS stage, o.in_stage_s AS in_stage_s, o.segment AS segment, s.sla_s AS sla_s
    FROM (
        SELECT st.tenant AS tenant, st.team_id AS team_id, st.rep_id AS rep_id,
               st.opportunity_id AS opportunity_id, st.account_id AS account_id,
               st.current_stage AS stage, st.in_stage_s AS in_stage_s,
               if(a.segment = '', '{DEFAULT_SEGMENT}', a.segment) AS segment
        FROM touchline.opportunity_state_current AS st
        LEFT JOIN {_in(CURRENT_ACCOUNTS, 8)} AS a
            ON a.tenant = st.tenant AND a.account_id = st.account_id
        WHERE st.is_closed = 0) AS o
    LEFT JOIN {_in(CURRENT_STAGE_SLAS, 4)} AS s
        ON s.tenant = o.tenant AND s.segment = o.segment AND s.stage = o.stage)"""

#: every account with the time since its last touch and its tier's "untouched" threshold
ACCOUNT_TOUCH_RECENCY = f"""(
    SELECT a.tenant AS tenant, a.team_id AS team_id, a.rep_id AS rep_id,
           a.account_id AS account_id, a.name AS account_name, a.tier AS tier,
           t.untouched_after_s AS untouched_after_s, l.last_touch_hour > 0 AS touched_in_lookback,
           dateDiff('second',
                    if(l.last_touch_hour > 0, l.last_touch_hour,
                       toStartOfHour(now('UTC')) - INTERVAL {TOUCH_LOOKBACK_DAYS} DAY),
                    now('UTC')) AS since_touch_s
    FROM {_in(CURRENT_ACCOUNTS, 4)} AS a
    LEFT JOIN (
        SELECT tenant, entity_id AS account_id, max(bucket) AS last_touch_hour
        FROM touchline.touch_counts
        WHERE entity_type = 'account'
          AND bucket >= toStartOfHour(now('UTC')) - INTERVAL {TOUCH_LOOKBACK_DAYS} DAY
        GROUP BY tenant, account_id) AS l
        ON l.tenant = a.tenant AND l.account_id = a.account_id
    LEFT JOIN {_in(CURRENT_TIERS, 4)} AS t ON t.tenant = a.tenant AND t.tier = a.tier
    WHERE t.untouched_after_s > 0)"""

#: per prospect in a cadence: the last step done, the step due by now (after the grace), the
#: next step's channel and due time; prospects with a cadence-ending disposition are left out
CADENCE_PROGRESS = f"""(
    SELECT p.tenant AS tenant, p.team_id AS team_id, p.rep_id AS rep_id,
           p.prospect_id AS prospect_id, p.account_id AS account_id, p.cadence_id AS cadence_id,
           toInt64(p.done_step) AS done_step,
           toInt64(countIf(s.due_after_s + {CADENCE_GRACE_S}
                           <= dateDiff('second', p.started_at, {NOW}))) AS due_step,
           anyIf(s.channel, s.step = p.done_step + 1) AS next_channel,
           p.started_at + toIntervalSecond(anyIf(s.due_after_s, s.step = p.done_step + 1))
               AS next_due_at
    FROM (
        SELECT tenant, team_id, rep_id, prospect_id, any(account_id) AS account_id, cadence_id,
               min(occurred_at) AS started_at, max(cadence_step) AS done_step
        FROM touchline.activities
        WHERE occurred_at >= {NOW} - INTERVAL {CADENCE_LOOKBACK_DAYS} DAY
          AND is_touch = 1 AND cadence_id != '' AND prospect_id != ''
        GROUP BY tenant, team_id, rep_id, prospect_id, cadence_id) AS p
    INNER JOIN {_in(CURRENT_CADENCE_STEPS, 4)} AS s
        ON s.tenant = p.tenant AND s.cadence_id = p.cadence_id
    WHERE (p.tenant, p.prospect_id) NOT IN (
        SELECT tenant, prospect_id FROM touchline.activities
        WHERE occurred_at >= {NOW} - INTERVAL {CADENCE_LOOKBACK_DAYS} DAY
          AND type = 'disposition' AND disposition IN {CADENCE_ENDING_DISPOSITIONS})
    GROUP BY p.tenant, p.team_id, p.rep_id, p.prospect_id, p.account_id, p.cadence_id,
             p.done_step, p.started_at)"""

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
       round(median(in_stage_s) / 86400, 1) AS median_days_in_stage,
       round(max(in_stage_s) / 86400, 1) AS longest_days_in_stage,
       round(any(sla_s) / 86400, 1) AS stage_sla_days,
       countIf(sla_s > 0 AND in_stage_s > sla_s) AS past_stage_sla
FROM {_in(OPEN_DEALS_VS_SLA, 0)}
WHERE {TENANT} AND {TEAM} AND {REPS_ANY}
GROUP BY segment, stage
ORDER BY segment, stage"""

COACH_UNTOUCHED_ACCOUNTS = f"""SELECT account_id AS account, account_name, rep_id AS rep, tier,
       round(since_touch_s / 86400, 1) AS days_since_touch,
       round(untouched_after_s / 86400, 1) AS untouched_after_days,
       touched_in_lookback
FROM {_in(ACCOUNT_TOUCH_RECENCY, 0)}
WHERE {TENANT} AND {TEAM} AND {REPS_ANY} AND since_touch_s >= untouched_after_s / 2
ORDER BY since_touch_s / untouched_after_s DESC
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

#: the rep's cadence touches of the last CADENCE_LOOKBACK_DAYS (CADENCE_PROGRESS's rows, one
#: rep): the `by_rep` projection of activities (sinks/ddl/0010) has them in one range
_REP_CADENCE_ROWS = f"""FROM touchline.activities
WHERE {TENANT} AND {REP_ONE}
  AND occurred_at >= {NOW} - INTERVAL {CADENCE_LOOKBACK_DAYS} DAY
  AND is_touch = 1 AND cadence_id != '' AND prospect_id != ''"""

#: CADENCE_PROGRESS's next step for one rep: each cadence's steps as arrays (one row per
#: cadence, so no join fan-out and regrouping), ended prospects from prospect_dispositions (0010)
#: and only for the rep's own cadence prospects (the only ones the NOT IN is asked about)
REP_PROSPECTS_DUE = f"""SELECT p.prospect_id AS prospect, p.account_id AS account,
       p.cadence_id AS cadence, toInt64(p.done_step) + 1 AS next_step,
       if(indexOf(s.steps, p.done_step + 1) = 0, '',
          s.channels[indexOf(s.steps, p.done_step + 1)]) AS next_channel,
       p.started_at + toIntervalSecond(if(indexOf(s.steps, p.done_step + 1) = 0, 0,
                                          s.due_after_s[indexOf(s.steps, p.done_step + 1)]))
           AS next_due_at,
       round(dateDiff('second', next_due_at, {NOW}) / 86400, 1) AS days_overdue
FROM (
    SELECT tenant, team_id, rep_id, prospect_id, any(account_id) AS account_id, cadence_id,
           min(occurred_at) AS started_at, max(cadence_step) AS done_step
    {_in(_REP_CADENCE_ROWS, 4)}
    GROUP BY tenant, team_id, rep_id, prospect_id, cadence_id) AS p
INNER JOIN (
    SELECT tenant, cadence_id, groupArray(step) AS steps, groupArray(channel) AS channels,
           groupArray(due_after_s) AS due_after_s
    FROM {_in(CURRENT_CADENCE_STEPS, 4)}
    GROUP BY tenant, cadence_id) AS s ON s.tenant = p.tenant AND s.cadence_id = p.cadence_id
WHERE (p.tenant, p.prospect_id) NOT IN (
    SELECT tenant, prospect_id FROM touchline.prospect_dispositions
    WHERE {TENANT} AND disposition IN {CADENCE_ENDING_DISPOSITIONS}
      AND prospect_id IN (
          SELECT prospect_id
          {_in(_REP_CADENCE_ROWS, 10)})
    GROUP BY tenant, prospect_id
    HAVING max(last_at) >= {NOW} - INTERVAL {CADENCE_LOOKBACK_DAYS} DAY)
  AND next_channel != '' AND next_due_at <= {NOW}
ORDER BY next_due_at
LIMIT 100"""

REP_DEALS_LONGEST = f"""SELECT opportunity_id AS opportunity, account_id AS account, segment, stage,
       round(in_stage_s / 86400, 1) AS days_in_stage, round(sla_s / 86400, 1) AS stage_sla_days
FROM {_in(OPEN_DEALS_VS_SLA, 0)}
WHERE {TENANT} AND {REP_ONE}
ORDER BY in_stage_s / greatest(sla_s, 1) DESC
LIMIT 20"""

REP_TOUCHES_THIS_WEEK = f"""SELECT countIf(is_touch = 1) AS touches_this_week
FROM touchline.activities
WHERE {TENANT} AND occurred_at >= toStartOfWeek(now('UTC'), 1) AND {REP_ONE}"""

# --- variables -----------------------------------------------------------------------------------

VAR_TENANTS = "SELECT DISTINCT tenant FROM touchline.reps ORDER BY tenant"
VAR_TEAMS = f"SELECT DISTINCT team_id FROM touchline.reps WHERE {TENANT} ORDER BY team_id"
VAR_TEAM_REPS = f"""SELECT rep_id FROM {_in(CURRENT_REPS, 0)}
WHERE {TENANT} AND {TEAM} ORDER BY rep_id"""
VAR_REPS = f"SELECT DISTINCT rep_id FROM touchline.reps WHERE {TENANT} ORDER BY rep_id"

# --- alert rules (one numeric column = the value; string columns = labels) ----------------------

ALERT_STUCK_DEAL = f"""SELECT tenant, team_id AS team, rep_id AS rep, opportunity_id AS opportunity,
       account_id AS account, segment, stage,
       toString(round(in_stage_s / 86400, 1)) AS days_in_stage,
       toString(round(sla_s / 86400, 1)) AS stage_sla_days,
       in_stage_s / sla_s AS sla_ratio
FROM {_in(OPEN_DEALS_VS_SLA, 0)}
WHERE sla_s > 0"""

ALERT_UNTOUCHED_ACCOUNT = f"""SELECT tenant, team_id AS team, rep_id AS rep, account_id AS account,
       account_name, tier, toString(round(since_touch_s / 86400, 1)) AS days_since_touch,
       toString(round(untouched_after_s / 86400, 1)) AS untouched_after_days,
       since_touch_s / untouched_after_s AS untouched_ratio
FROM {_in(ACCOUNT_TOUCH_RECENCY, 0)}"""

ALERT_CADENCE_BEHIND = f"""SELECT tenant, team_id AS team, rep_id AS rep, cadence_id AS cadence,
       toString(count()) AS prospects_in_cadence,
       topKIf(1)(next_channel, due_step - done_step >= 2)[1] AS next_channel,
       toFloat64(countIf(due_step - done_step >= 2)) AS prospects_two_steps_behind
FROM {_in(CADENCE_PROGRESS, 0)}
GROUP BY tenant, team, rep, cadence"""

ALERT_SPEED_TO_LEAD = f"""SELECT l.tenant AS tenant, l.team_id AS team, l.rep_id AS rep,
       l.prospect_id AS prospect, l.account_id AS account, a.tier AS tier,
       toString(round(t.speed_to_lead_s / 3600, 1)) AS sla_hours,
       toString(round(dateDiff('second', l.lead_at, {NOW}) / 3600, 1)) AS waiting_hours,
       dateDiff('second', l.lead_at, {NOW}) / t.speed_to_lead_s AS sla_ratio
FROM (
    SELECT tenant, team_id, rep_id, prospect_id, any(account_id) AS account_id,
           min(occurred_at) AS lead_at
    FROM touchline.activities
    WHERE type = 'lead' AND $__timeFilter(occurred_at)
    GROUP BY tenant, team_id, rep_id, prospect_id) AS l
LEFT JOIN (
    SELECT tenant, prospect_id, max(occurred_at) AS last_touch
    FROM touchline.activities
    WHERE is_touch = 1 AND prospect_id != '' AND $__timeFilter(occurred_at)
    GROUP BY tenant, prospect_id) AS f ON f.tenant = l.tenant AND f.prospect_id = l.prospect_id
LEFT JOIN {_in(CURRENT_ACCOUNTS, 0)} AS a ON a.tenant = l.tenant AND a.account_id = l.account_id
LEFT JOIN {_in(CURRENT_TIERS, 0)} AS t
    ON t.tenant = l.tenant AND t.tier = if(a.tier = '', '{DEFAULT_TIER}', a.tier)
WHERE f.last_touch < l.lead_at AND t.speed_to_lead_s > 0"""

ALERT_DLQ_SPIKE = """SELECT d.reason AS reason, toString(d.rejected) AS rejected_events,
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

ALERT_PIPELINE_FRESHNESS = f"""SELECT toFloat64(
           if(count() = 0, 1e9, dateDiff('second', max(ts), {NOW}))) AS seconds_since_worker_report
FROM touchline.pipeline_metrics
WHERE $__timeFilter(ts)"""
