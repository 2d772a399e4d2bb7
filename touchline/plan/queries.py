"""SQL for the Coach step, written once. `{db}` is the database; `{name:Type}` are parameters.

Every query takes `now` (so tests and replays can judge any moment), `tenant`, and the plan
version in force for what it judges.
"""

from __future__ import annotations

from touchline.sinks.clickhouse import ClickHouseSink

#: the plan version in force at `at`, with its plan-wide settings
PLAN_IN_FORCE = """
SELECT *
FROM {db}.plan_versions FINAL
WHERE tenant = {tenant:String} AND effective_from <= {at:DateTime64(3, 'UTC')}
ORDER BY effective_from DESC
LIMIT 1
"""

#: tenants with a plan in force at `now`
PLANNED_TENANTS = """
SELECT DISTINCT tenant FROM {db}.plan_versions FINAL
WHERE effective_from <= {now:DateTime64(3, 'UTC')}
ORDER BY tenant
"""

#: open deals that have sat in their stage longer than the stage SLA of their segment
STUCK_DEALS = """
SELECT o.opportunity_id AS opportunity_id, o.account_id AS account_id, o.rep_id AS rep_id,
       o.team_id AS team_id, o.current_stage AS stage, o.stage_entered_at AS entered_at,
       o.segment AS segment, o.dwell_s AS dwell_s, s.sla_s AS sla_s
FROM
(
    SELECT st.*, if(a.segment = '', {default_segment:String}, a.segment) AS segment,
           dateDiff('second', st.stage_entered_at, {now:DateTime64(3, 'UTC')}) AS dwell_s
    FROM (SELECT * FROM {db}.opportunity_state FINAL
          WHERE tenant = {tenant:String} AND is_closed = 0
            AND current_stage NOT IN {closed:Array(String)}) AS st
    LEFT JOIN (SELECT account_id, segment FROM {db}.accounts FINAL
               WHERE tenant = {tenant:String}) AS a ON st.account_id = a.account_id
) AS o
INNER JOIN (SELECT segment, stage, sla_s FROM {db}.plan_stage_slas FINAL
            WHERE tenant = {tenant:String} AND plan_version = {plan_version:String}) AS s
    ON o.segment = s.segment AND o.current_stage = s.stage
WHERE o.dwell_s > s.sla_s
ORDER BY opportunity_id
"""

#: accounts whose last touch (or first sighting) is older than their tier's threshold; the book
#: starts from `accounts` (what each team owns), so an account with no activity at all is
#: reported too (never seen: untouched_s NULL)
UNTOUCHED_ACCOUNTS = """
SELECT x.account_id AS account_id, x.rep_id AS rep_id, x.team_id AS team_id, x.tier AS tier,
       x.last_touch_at AS last_touch_at, x.last_channel AS last_channel,
       x.touches AS touches, x.untouched_s AS untouched_s, t.untouched_after_s AS threshold_s
FROM
(
    SELECT b.account_id AS account_id,
           if(a.owner_rep_id = '', s.last_rep_id, a.owner_rep_id) AS rep_id,
           if(a.team_id = '', s.team_id, a.team_id) AS team_id,
           if(a.tier = '', {default_tier:String}, a.tier) AS tier,
           s.last_touch_at AS last_touch_at, s.last_channel AS last_channel, s.touches AS touches,
           if(s.account_id = '', NULL,
              dateDiff('second', if(s.touches > 0, s.last_touch_at, s.first_seen_at),
                       {now:DateTime64(3, 'UTC')})) AS untouched_s
    FROM
    (
        SELECT account_id FROM {db}.accounts FINAL WHERE tenant = {tenant:String}
        UNION DISTINCT
        SELECT DISTINCT account_id FROM {db}.activities
        WHERE tenant = {tenant:String} AND account_id != ''
          AND occurred_at <= {now:DateTime64(3, 'UTC')}
    ) AS b
    LEFT JOIN
    (
        SELECT account_id, maxIf(occurred_at, is_touch = 1) AS last_touch_at,
               argMaxIf(channel, occurred_at, is_touch = 1) AS last_channel,
               countIf(is_touch = 1) AS touches, min(occurred_at) AS first_seen_at,
               argMax(rep_id, occurred_at) AS last_rep_id, argMax(team_id, occurred_at) AS team_id
        FROM {db}.activities
        WHERE tenant = {tenant:String} AND account_id != ''
          AND occurred_at <= {now:DateTime64(3, 'UTC')}
        GROUP BY account_id
    ) AS s ON b.account_id = s.account_id
    LEFT JOIN (SELECT * FROM {db}.accounts FINAL WHERE tenant = {tenant:String}) AS a
        ON b.account_id = a.account_id
) AS x
INNER JOIN (SELECT tier, untouched_after_s FROM {db}.plan_tiers FINAL
            WHERE tenant = {tenant:String} AND plan_version = {plan_version:String}) AS t
    ON x.tier = t.tier
WHERE x.untouched_s IS NULL OR x.untouched_s > t.untouched_after_s
ORDER BY account_id
"""

#: new leads with no touch yet, past the speed-to-lead SLA of their account's tier
LEADS_OVER_SLA = """
SELECT l.prospect_id AS prospect_id, l.account_id AS account_id, l.rep_id AS rep_id,
       l.team_id AS team_id, l.lead_at AS lead_at, l.tier AS tier,
       dateDiff('second', l.lead_at, {now:DateTime64(3, 'UTC')}) AS waiting_s,
       t.speed_to_lead_s AS sla_s
FROM
(
    SELECT ld.*, if(a.tier = '', {default_tier:String}, a.tier) AS tier
    FROM
    (
        SELECT prospect_id, argMin(account_id, occurred_at) AS account_id,
               argMin(rep_id, occurred_at) AS rep_id, argMin(team_id, occurred_at) AS team_id,
               min(occurred_at) AS lead_at
        FROM {db}.activities
        WHERE tenant = {tenant:String} AND type = 'lead' AND prospect_id != ''
          AND occurred_at <= {now:DateTime64(3, 'UTC')}
          AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL {lookback_s:UInt32} SECOND
        GROUP BY prospect_id
    ) AS ld
    LEFT JOIN (SELECT account_id, tier FROM {db}.accounts FINAL
               WHERE tenant = {tenant:String}) AS a ON ld.account_id = a.account_id
) AS l
INNER JOIN (SELECT tier, speed_to_lead_s FROM {db}.plan_tiers FINAL
            WHERE tenant = {tenant:String} AND plan_version = {plan_version:String}) AS t
    ON l.tier = t.tier
LEFT JOIN
(
    SELECT prospect_id, max(occurred_at) AS last_touch_at
    FROM {db}.activities
    WHERE tenant = {tenant:String} AND is_touch = 1 AND prospect_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
    GROUP BY prospect_id
) AS tt ON l.prospect_id = tt.prospect_id
WHERE (tt.prospect_id = '' OR tt.last_touch_at < l.lead_at) AND waiting_s > t.speed_to_lead_s
ORDER BY prospect_id
"""

#: per prospect in a cadence: the step due now (plan in force when the cadence started),
#: the steps done, how many due steps lack a touch, and the next step's channel
CADENCE_PROSPECTS = """
WITH per_prospect AS
(
    SELECT cadence_id, prospect_id,
           argMin(rep_id, occurred_at) AS rep_id, argMin(team_id, occurred_at) AS team_id,
           min(occurred_at) AS started_at, groupUniqArray(cadence_step) AS done_steps
    FROM {db}.activities
    WHERE tenant = {tenant:String} AND is_touch = 1 AND cadence_id != '' AND prospect_id != ''
      AND cadence_step > 0 AND occurred_at <= {now:DateTime64(3, 'UTC')}
    GROUP BY cadence_id, prospect_id
    -- a cadence abandoned long ago is history, not something to coach this week
    HAVING started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
),
closing AS
(
    SELECT prospect_id, argMax(disposition, occurred_at) AS disposition,
           max(occurred_at) AS disposition_at
    FROM {db}.activities
    WHERE tenant = {tenant:String} AND type = 'disposition' AND prospect_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
    GROUP BY prospect_id
),
cadences AS
(
    SELECT * FROM {db}.plan_cadences WHERE tenant = {tenant:String}
)
SELECT
    p.cadence_id AS cadence_id, p.prospect_id AS prospect_id, p.rep_id AS rep_id,
    p.team_id AS team_id, p.started_at AS started_at,
    length(c.steps) AS planned_steps,
    arrayCount(o -> o + {grace_s:UInt64}
                    <= dateDiff('second', p.started_at, {now:DateTime64(3, 'UTC')}), c.offsets)
        AS due_step,
    arrayCount(s -> has(p.done_steps, s) AND s <= due_step, c.steps) AS due_done,
    toInt64(due_step) - toInt64(due_done) AS steps_behind,
    arrayFirstIndex(s -> NOT has(p.done_steps, s), c.steps) AS next_index,
    if(next_index = 0, '', c.channels[next_index]) AS next_channel,
    arrayCount(s -> NOT has(p.done_steps, s) AND s < arrayMax(p.done_steps)
                    AND c.channels[s] = 'call', c.steps) AS skipped_calls,
    d.disposition AS disposition
FROM per_prospect AS p
ASOF INNER JOIN cadences AS c
    ON p.cadence_id = c.cadence_id AND p.started_at >= c.effective_from
LEFT JOIN closing AS d ON p.prospect_id = d.prospect_id
WHERE next_index != 0
  AND NOT (d.disposition IN ('qualify', 'disqualify', 'archive', 'postpone')
           AND d.disposition_at >= p.started_at)
"""

#: per rep and cadence: prospects in the cadence, those behind, and the usual next channel
CADENCE_BEHIND = f"""
SELECT rep_id, any(team_id) AS team_id, cadence_id, count() AS active,
       countIf(steps_behind >= {{behind:UInt16}}) AS behind,
       maxIf(steps_behind, steps_behind >= {{behind:UInt16}}) AS worst,
       topKIf(1)(next_channel, steps_behind >= {{behind:UInt16}})[1] AS next_channel,
       countIf(steps_behind >= {{behind:UInt16}} AND skipped_calls > 0) AS skipping_calls
FROM ({CADENCE_PROSPECTS})
GROUP BY rep_id, cadence_id
HAVING behind >= {{min_prospects:UInt32}}
ORDER BY rep_id, cadence_id
"""

#: every plan version of a tenant that took effect by `now`, oldest first
PLAN_PERIODS = """
SELECT effective_from, plan_version FROM {db}.plan_versions FINAL
WHERE tenant = {tenant:String} AND effective_from <= {now:DateTime64(3, 'UTC')}
ORDER BY effective_from
"""

#: per rep, high-impact activities between `since` and `now`
REP_WINDOW_ACTUALS = """
SELECT rep_id, any(team_id) AS team_id,
       countIf(type = 'call' AND direction = 'outbound') AS call_attempts,
       countIf(type = 'call' AND direction = 'outbound' AND outcome = 'connected')
           AS connected_calls,
       countIf(type = 'email' AND email_action = 'sent') AS emails_sent,
       countIf(type = 'meeting' AND meeting_status = 'held') AS meetings_held
FROM {db}.activities
WHERE tenant = {tenant:String}
  AND occurred_at >= {since:DateTime64(3, 'UTC')}
  AND occurred_at <= {now:DateTime64(3, 'UTC')}
GROUP BY rep_id
ORDER BY rep_id
"""

#: per rep, leads since `since` whose SLA has run out or that were touched: % touched in time
REP_WINDOW_LEADS = """
SELECT l.rep_id AS rep_id, count() AS leads,
       countIf(tt.first_touch_at >= l.lead_at
               AND dateDiff('second', l.lead_at, tt.first_touch_at) <= t.speed_to_lead_s)
           AS in_time
FROM
(
    SELECT ld.*, if(a.tier = '', {default_tier:String}, a.tier) AS tier
    FROM
    (
        SELECT prospect_id, argMin(rep_id, occurred_at) AS rep_id,
               argMin(account_id, occurred_at) AS account_id, min(occurred_at) AS lead_at
        FROM {db}.activities
        WHERE tenant = {tenant:String} AND type = 'lead' AND prospect_id != ''
          AND occurred_at >= {since:DateTime64(3, 'UTC')}
          AND occurred_at <= {now:DateTime64(3, 'UTC')}
        GROUP BY prospect_id
    ) AS ld
    LEFT JOIN (SELECT account_id, tier FROM {db}.accounts FINAL
               WHERE tenant = {tenant:String}) AS a ON ld.account_id = a.account_id
) AS l
INNER JOIN (SELECT tier, speed_to_lead_s FROM {db}.plan_tiers FINAL
            WHERE tenant = {tenant:String} AND plan_version = {plan_version:String}) AS t
    ON l.tier = t.tier
LEFT JOIN
(
    SELECT prospect_id, minIf(occurred_at, is_touch = 1) AS first_touch_at
    FROM {db}.activities
    WHERE tenant = {tenant:String} AND is_touch = 1 AND prospect_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
    GROUP BY prospect_id
) AS tt ON l.prospect_id = tt.prospect_id
WHERE tt.first_touch_at >= l.lead_at
   OR dateDiff('second', l.lead_at, {now:DateTime64(3, 'UTC')}) > t.speed_to_lead_s
GROUP BY rep_id
"""

#: role and team of known reps at `now`: the org period in force (rep_periods), else the
#: `reps` row
REP_ROLES = """
SELECT rep_id, argMax(role, in_org) AS role, argMax(team_id, in_org) AS team_id
FROM
(
    SELECT rep_id, role, team_id, 1 AS in_org FROM {db}.rep_periods
    WHERE tenant = {tenant:String} AND active_from <= {now:DateTime64(3, 'UTC')}
      AND active_to > {now:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT rep_id, role, team_id, 0 AS in_org FROM {db}.reps FINAL WHERE tenant = {tenant:String}
)
GROUP BY rep_id
"""

#: weekly targets of every plan version of a tenant
TARGETS = """
SELECT plan_version, role, activity, weekly_target FROM {db}.plan_activity_targets FINAL
WHERE tenant = {tenant:String}
"""

#: the latest version of every signal of some tenants
CURRENT_SIGNALS = """
SELECT * FROM {db}.signals FINAL WHERE tenant IN {tenants:Array(String)}
"""


def sql(sink: ClickHouseSink, text: str) -> str:
    """`text` with the sink's database filled in."""
    return text.replace("{db}", sink.database)
