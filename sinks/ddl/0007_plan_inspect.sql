-- Inspect: plan versions and plan-vs-actual views (touchline/plan). Every view judges a moment
-- against the plan in force at that moment (ASOF JOIN on effective_from).

-- One row per loaded plan version: which version is in force from when, plus the plan-wide
-- settings that have no table of their own (defaults and coaching thresholds).
CREATE TABLE IF NOT EXISTS {db}.plan_versions
(
    tenant                        LowCardinality(String),
    plan_version                  String,
    effective_from                DateTime64(3, 'UTC'),
    loaded_at                     DateTime64(3, 'UTC'),
    stages                        Array(String),
    closed_stages                 Array(String),
    default_segment               LowCardinality(String),
    default_tier                  LowCardinality(String),
    default_role                  LowCardinality(String),
    cadence_behind_steps          UInt16,
    cadence_behind_min_prospects  UInt32,
    cadence_grace_s               UInt64,
    activity_mix_min_ratio        Float64,
    activity_mix_min_elapsed_s    UInt64,
    source                        String
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (tenant, effective_from);

-- Each plan version with the moment the next one replaces it.
CREATE VIEW IF NOT EXISTS {db}.plan_periods AS
SELECT
    tenant,
    plan_version,
    effective_from,
    leadInFrame(effective_from, 1, toDateTime64('2106-01-01 00:00:00', 3, 'UTC'))
        OVER (PARTITION BY tenant ORDER BY effective_from
              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS effective_to,
    default_segment,
    default_tier,
    default_role
FROM {db}.plan_versions FINAL;

-- A cadence as arrays: steps, channels, waits and the offset of each step from step 1.
CREATE VIEW IF NOT EXISTS {db}.plan_cadences AS
SELECT
    tenant,
    plan_version,
    effective_from,
    cadence_id,
    arraySort(groupArray((step, channel, wait_s))) AS step_tuples,
    arrayMap(x -> x.1, step_tuples) AS steps,
    arrayMap(x -> x.2, step_tuples) AS channels,
    arrayMap(x -> x.3, step_tuples) AS waits,
    arrayCumSum(waits) AS offsets
FROM {db}.plan_cadence_steps FINAL
GROUP BY tenant, plan_version, effective_from, cadence_id;

-- Cadence adherence per prospect: the plan in force when the cadence started says which step
-- is due now; done/skipped/late steps come from the touches. `steps_behind` counts due steps
-- without a touch (skipped ones included).
CREATE VIEW IF NOT EXISTS {db}.cadence_adherence AS
WITH per_prospect AS
(
    SELECT
        tenant,
        cadence_id,
        prospect_id,
        argMin(rep_id, occurred_at) AS rep_id,
        argMin(team_id, occurred_at) AS team_id,
        min(occurred_at) AS started_at,
        max(occurred_at) AS last_touch_at,
        count() AS touches,
        groupUniqArray(cadence_step) AS done_steps,
        groupArray((cadence_step, occurred_at)) AS step_times
    FROM {db}.activities
    WHERE is_touch = 1 AND cadence_id != '' AND prospect_id != '' AND cadence_step > 0
    GROUP BY tenant, cadence_id, prospect_id
),
last_disposition AS
(
    SELECT tenant, prospect_id, argMax(disposition, occurred_at) AS disposition,
           max(occurred_at) AS disposition_at
    FROM {db}.activities
    WHERE type = 'disposition' AND prospect_id != ''
    GROUP BY tenant, prospect_id
)
SELECT
    p.tenant AS tenant,
    p.cadence_id AS cadence_id,
    p.prospect_id AS prospect_id,
    p.rep_id AS rep_id,
    p.team_id AS team_id,
    c.plan_version AS plan_version,
    p.started_at AS started_at,
    p.last_touch_at AS last_touch_at,
    p.touches AS touches,
    length(c.steps) AS planned_steps,
    arrayCount(o -> o <= dateDiff('second', p.started_at, now64(3, 'UTC')), c.offsets)
        AS due_step,
    length(arrayFilter(s -> has(p.done_steps, s), c.steps)) AS steps_done,
    arrayFilter(s -> NOT has(p.done_steps, s) AND s < arrayMax(p.done_steps), c.steps)
        AS skipped_steps,
    arrayCount((s, o) -> arrayExists(
        x -> x.1 = s AND dateDiff('second', p.started_at, x.2) > o + 86400, p.step_times),
        c.steps, c.offsets) AS late_steps,
    greatest(toInt64(due_step) - toInt64(arrayCount(
        s -> has(p.done_steps, s) AND s <= due_step, c.steps)), 0) AS steps_behind,
    arrayFirstOrNull(s -> NOT has(p.done_steps, s), c.steps) AS next_step,
    if(isNull(next_step), '', c.channels[assumeNotNull(next_step)]) AS next_channel,
    ifNull(d.disposition, '') AS disposition,
    d.disposition_at AS disposition_at
FROM per_prospect AS p
ASOF LEFT JOIN {db}.plan_cadences AS c
    ON p.tenant = c.tenant AND p.cadence_id = c.cadence_id AND p.started_at >= c.effective_from
LEFT JOIN last_disposition AS d ON p.tenant = d.tenant AND p.prospect_id = d.prospect_id
SETTINGS join_use_nulls = 1;

-- "Prospects by number of touches received", per cadence, rep and team, with dispositions.
CREATE VIEW IF NOT EXISTS {db}.cadence_touch_distribution AS
SELECT
    tenant, cadence_id, team_id, rep_id, touches,
    count() AS prospects,
    countIf(disposition = 'qualify') AS qualified,
    countIf(disposition = 'disqualify') AS disqualified,
    countIf(disposition = 'postpone') AS postponed,
    countIf(disposition = 'archive') AS archived,
    countIf(disposition = 'revisit') AS revisited,
    countIf(disposition = '') AS open
FROM {db}.cadence_adherence
GROUP BY tenant, cadence_id, team_id, rep_id, touches;

-- High-impact activities per rep and ISO week (Monday, UTC), counted from activities.
CREATE VIEW IF NOT EXISTS {db}.rep_week_activity AS
SELECT
    tenant,
    rep_id,
    any(team_id) AS team_id,
    toDateTime64(toMonday(occurred_at), 3, 'UTC') AS week_start,
    countIf(type = 'call' AND direction = 'outbound') AS call_attempts,
    countIf(type = 'call' AND direction = 'outbound' AND outcome = 'connected')
        AS connected_calls,
    countIf(type = 'email' AND email_action = 'sent') AS emails_sent,
    countIf(type = 'meeting' AND meeting_status = 'held') AS meetings_held
FROM {db}.activities
GROUP BY tenant, rep_id, week_start;

-- Speed-to-lead per lead: the lead event starts the clock, the first touch stops it; the SLA
-- is the account tier's under the plan in force when the lead arrived.
CREATE VIEW IF NOT EXISTS {db}.speed_to_lead AS
WITH leads AS
(
    SELECT tenant, prospect_id, argMin(rep_id, occurred_at) AS rep_id,
           argMin(team_id, occurred_at) AS team_id, argMin(account_id, occurred_at) AS account_id,
           min(occurred_at) AS lead_at
    FROM {db}.activities
    WHERE type = 'lead' AND prospect_id != ''
    GROUP BY tenant, prospect_id
),
first_touch AS
(
    SELECT l.tenant AS tenant, l.prospect_id AS prospect_id,
           minIf(a.occurred_at, a.occurred_at >= l.lead_at) AS touched_at,
           countIf(a.occurred_at >= l.lead_at) AS touches
    FROM leads AS l
    INNER JOIN {db}.activities AS a ON a.tenant = l.tenant AND a.prospect_id = l.prospect_id
    WHERE a.is_touch = 1
    GROUP BY tenant, prospect_id
),
lead_plans AS
(
    SELECT l.*, v.plan_version AS plan_version, v.default_tier AS default_tier
    FROM leads AS l
    ASOF LEFT JOIN {db}.plan_versions AS v
        ON l.tenant = v.tenant AND l.lead_at >= v.effective_from
)
SELECT
    l.tenant AS tenant, l.prospect_id AS prospect_id, l.rep_id AS rep_id, l.team_id AS team_id,
    l.account_id AS account_id, l.plan_version AS plan_version,
    if(acc.tier = '', l.default_tier, acc.tier) AS tier,
    l.lead_at AS lead_at,
    if(ft.touches > 0, ft.touched_at, NULL) AS first_touch_at,
    if(ft.touches > 0, dateDiff('second', l.lead_at, ft.touched_at), NULL) AS response_s,
    t.speed_to_lead_s AS sla_s,
    if(ft.touches > 0, toUInt8(response_s <= sla_s),
       toUInt8(dateDiff('second', l.lead_at, now64(3, 'UTC')) <= sla_s)) AS within_sla
FROM lead_plans AS l
LEFT JOIN first_touch AS ft ON l.tenant = ft.tenant AND l.prospect_id = ft.prospect_id
LEFT JOIN (SELECT tenant, account_id, tier FROM {db}.accounts FINAL) AS acc
    ON l.tenant = acc.tenant AND l.account_id = acc.account_id
LEFT JOIN (SELECT * FROM {db}.plan_tiers FINAL) AS t
    ON l.tenant = t.tenant AND l.plan_version = t.plan_version AND tier = t.tier;

-- Weekly activity vs target, per rep and ISO week. Each plan version counts for the part of
-- the week it was in force: a plan changed on Wednesday gives that week 2/7 of the old weekly
-- target plus 5/7 of the new one (percentages are time-weighted averages).
CREATE VIEW IF NOT EXISTS {db}.rep_week_vs_target AS
WITH pieces AS
(
    SELECT w.tenant AS tenant, w.rep_id AS rep_id, w.week_start AS week_start,
           p.plan_version AS plan_version, if(r.role = '', p.default_role, r.role) AS role,
           dateDiff('second', greatest(w.week_start, p.effective_from),
                    least(w.week_start + INTERVAL 7 DAY, p.effective_to)) AS overlap_s
    FROM {db}.rep_week_activity AS w
    INNER JOIN {db}.plan_periods AS p ON w.tenant = p.tenant
    LEFT JOIN (SELECT tenant, rep_id, role FROM {db}.reps FINAL) AS r
        ON w.tenant = r.tenant AND w.rep_id = r.rep_id
    WHERE overlap_s > 0
),
targets AS
(
    SELECT pc.tenant AS tenant, pc.rep_id AS rep_id, pc.week_start AS week_start,
           t.activity AS activity, any(pc.role) AS role,
           arrayStringConcat(arraySort(groupUniqArray(pc.plan_version)), '+') AS plan_version,
           if(t.activity = 'leads_touched_within_sla',
              sum(t.weekly_target * pc.overlap_s) / sum(pc.overlap_s),
              sum(t.weekly_target * pc.overlap_s) / 604800) AS target
    FROM pieces AS pc
    INNER JOIN (SELECT * FROM {db}.plan_activity_targets FINAL) AS t
        ON pc.tenant = t.tenant AND pc.plan_version = t.plan_version AND pc.role = t.role
    GROUP BY tenant, rep_id, week_start, activity
),
lead_weeks AS
(
    SELECT tenant, rep_id, toDateTime64(toMonday(lead_at), 3, 'UTC') AS week_start,
           round(100 * avg(within_sla)) AS leads_touched_within_sla
    FROM {db}.speed_to_lead
    GROUP BY tenant, rep_id, week_start
)
SELECT
    w.tenant AS tenant, w.rep_id AS rep_id, w.team_id AS team_id, w.week_start AS week_start,
    t.role AS role, t.plan_version AS plan_version, t.activity AS activity,
    toFloat64(multiIf(t.activity = 'call_attempts', toFloat64(w.call_attempts),
                      t.activity = 'connected_calls', toFloat64(w.connected_calls),
                      t.activity = 'emails_sent', toFloat64(w.emails_sent),
                      t.activity = 'meetings_held', toFloat64(w.meetings_held),
                      ifNull(lw.leads_touched_within_sla, 100))) AS actual,
    round(t.target, 1) AS target,
    if(t.target = 0, NULL, actual / t.target) AS attainment
FROM {db}.rep_week_activity AS w
INNER JOIN targets AS t
    ON w.tenant = t.tenant AND w.rep_id = t.rep_id AND w.week_start = t.week_start
LEFT JOIN lead_weeks AS lw
    ON w.tenant = lw.tenant AND w.rep_id = lw.rep_id AND w.week_start = lw.week_start;

-- Accounts by time since their last touch vs their tier's threshold (plan in force now).
CREATE VIEW IF NOT EXISTS {db}.account_touch_status AS
WITH seen AS
(
    SELECT tenant, account_id, maxIf(occurred_at, is_touch = 1) AS last_touch_at,
           countIf(is_touch = 1) AS touches, min(occurred_at) AS first_seen_at,
           argMax(rep_id, occurred_at) AS last_rep_id, argMax(team_id, occurred_at) AS team_id
    FROM {db}.activities
    WHERE account_id != ''
    GROUP BY tenant, account_id
),
current_plan AS
(
    SELECT tenant, argMax(plan_version, effective_from) AS plan_version,
           argMax(default_tier, effective_from) AS default_tier
    FROM {db}.plan_versions FINAL
    WHERE effective_from <= now64(3, 'UTC')
    GROUP BY tenant
)
SELECT
    s.tenant AS tenant, s.account_id AS account_id, s.team_id AS team_id,
    if(acc.owner_rep_id = '', s.last_rep_id, acc.owner_rep_id) AS rep_id,
    if(acc.tier = '', p.default_tier, acc.tier) AS tier,
    if(s.touches > 0, s.last_touch_at, NULL) AS last_touch_at,
    dateDiff('second', if(s.touches > 0, s.last_touch_at, s.first_seen_at), now64(3, 'UTC'))
        AS untouched_s,
    t.untouched_after_s AS threshold_s,
    toUInt8(untouched_s > threshold_s) AS is_untouched
FROM seen AS s
INNER JOIN current_plan AS p ON s.tenant = p.tenant
LEFT JOIN (SELECT * FROM {db}.accounts FINAL) AS acc
    ON s.tenant = acc.tenant AND s.account_id = acc.account_id
LEFT JOIN (SELECT * FROM {db}.plan_tiers FINAL) AS t
    ON s.tenant = t.tenant AND p.plan_version = t.plan_version AND tier = t.tier;

-- Variation between reps of a team: weekly attainment spread per activity (who leads, who lags).
CREATE VIEW IF NOT EXISTS {db}.team_week_variation AS
SELECT
    tenant, team_id, week_start, activity,
    count() AS reps,
    sum(actual) AS actual,
    round(sum(target), 1) AS target,
    round(avg(attainment), 3) AS avg_attainment,
    round(min(attainment), 3) AS min_attainment,
    round(max(attainment), 3) AS max_attainment,
    round(stddevPop(attainment), 3) AS stddev_attainment,
    argMin(rep_id, attainment) AS lagging_rep,
    argMax(rep_id, attainment) AS leading_rep
FROM {db}.rep_week_vs_target
WHERE attainment IS NOT NULL
GROUP BY tenant, team_id, week_start, activity;

-- Touches per account segment, tier, team and week: where the effort goes.
CREATE VIEW IF NOT EXISTS {db}.segment_week_touches AS
SELECT
    a.tenant AS tenant,
    if(acc.segment = '', 'unknown', acc.segment) AS segment,
    if(acc.tier = '', 'unknown', acc.tier) AS tier,
    a.team_id AS team_id,
    toDateTime64(toMonday(a.occurred_at), 3, 'UTC') AS week_start,
    a.channel AS channel,
    count() AS touches,
    uniqExact(a.account_id) AS accounts,
    uniqExact(a.rep_id) AS reps
FROM {db}.activities AS a
LEFT JOIN (SELECT tenant, account_id, segment, tier FROM {db}.accounts FINAL) AS acc
    ON a.tenant = acc.tenant AND a.account_id = acc.account_id
WHERE a.is_touch = 1
GROUP BY tenant, segment, tier, team_id, week_start, channel;
