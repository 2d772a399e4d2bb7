-- The org (docs/org.md): teams and rep periods loaded by `touchline org load`, with effective
-- dates, so history is judged by the org in force at the time. Every load writes the whole
-- section it replaces with a new `version`; a row the new file no longer holds gets a newer
-- version with is_deleted = 1, so FINAL (and the views below) read exactly the last file.
-- `reps` (the period in force now) and `accounts` (0005) are written by the same load.

CREATE TABLE IF NOT EXISTS {db}.org_teams
(
    tenant          LowCardinality(String),
    team_id         String,
    name            String,
    manager_rep_id  String,
    is_deleted      UInt8,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (tenant, team_id);

-- One row per rep and period: a rep who moved teams (or changed role) has one row per period.
-- active_to is exclusive; an open period ends at 2106-01-01.
CREATE TABLE IF NOT EXISTS {db}.org_rep_periods
(
    tenant          LowCardinality(String),
    rep_id          String,
    active_from     DateTime64(3, 'UTC'),
    active_to       DateTime64(3, 'UTC'),
    name            String,
    email           String,
    role            LowCardinality(String),
    team_id         LowCardinality(String),
    manager_rep_id  String,
    is_deleted      UInt8,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (tenant, rep_id, active_from);

-- What an org file says of an account beyond 0005's columns.
ALTER TABLE {db}.accounts ADD COLUMN IF NOT EXISTS industry LowCardinality(String) DEFAULT '';

-- The rep periods of the last loaded file. To find the team and role in force when an event
-- happened: ASOF LEFT JOIN on tenant, rep_id and occurred_at >= active_from, then keep the
-- match only while occurred_at < active_to (see rep_week_activity below).
CREATE VIEW IF NOT EXISTS {db}.rep_periods AS
SELECT tenant, rep_id, active_from, active_to, name, email, role, team_id, manager_rep_id
FROM {db}.org_rep_periods FINAL;

-- Teams of the last loaded file.
CREATE VIEW IF NOT EXISTS {db}.teams AS
SELECT tenant, team_id, name, manager_rep_id
FROM {db}.org_teams FINAL;

-- Every activity with the team and role of its rep's period in force at the event's time
-- (`in_org` = 1); outside any period (a rep not in the org, or before their first period)
-- the event's own team_id and an empty role, and the period spans all time.
CREATE VIEW IF NOT EXISTS {db}.activities_in_org AS
SELECT
    a.*,
    toUInt8(o.rep_id != '' AND a.occurred_at < o.active_to) AS in_org,
    if(in_org = 1, o.team_id, a.team_id) AS org_team_id,
    if(in_org = 1, o.role, '') AS org_role,
    if(in_org = 1, o.active_from, toDateTime64(0, 3, 'UTC')) AS period_from,
    if(in_org = 1, o.active_to, toDateTime64('2106-01-01 00:00:00', 3, 'UTC')) AS period_to
FROM {db}.activities AS a
ASOF LEFT JOIN {db}.rep_periods AS o
    ON a.tenant = o.tenant AND a.rep_id = o.rep_id AND a.occurred_at >= o.active_from;

-- High-impact activities per rep, org period and ISO week (Monday, UTC): a rep who moved
-- teams on Wednesday has one row for Monday-Tuesday (old team) and one for the rest (new
-- team). Replaces 0007's version, which gave the whole history the rep's latest event team.
CREATE OR REPLACE VIEW {db}.rep_week_activity AS
SELECT
    tenant,
    rep_id,
    any(org_team_id) AS team_id,
    any(org_role) AS role,
    period_from,
    any(period_to) AS period_to,
    toDateTime64(toMonday(occurred_at), 3, 'UTC') AS week_start,
    countIf(type = 'call' AND direction = 'outbound') AS call_attempts,
    countIf(type = 'call' AND direction = 'outbound' AND outcome = 'connected')
        AS connected_calls,
    countIf(type = 'email' AND email_action = 'sent') AS emails_sent,
    countIf(type = 'meeting' AND meeting_status = 'held') AS meetings_held
FROM {db}.activities_in_org
GROUP BY tenant, rep_id, period_from, week_start;

-- Weekly activity vs target, per rep, org period and ISO week. The role is the org period's
-- (then the `reps` row, then the plan's default role, for a rep the org does not cover). Each
-- plan version and each org period counts for the part of the week it was in force: a plan
-- changed on Wednesday gives that week 2/7 of the old weekly target plus 5/7 of the new one,
-- and a rep who moved teams on Wednesday is judged 2/7 of a week in the old team.
CREATE OR REPLACE VIEW {db}.rep_week_vs_target AS
WITH pieces AS
(
    SELECT w.tenant AS tenant, w.rep_id AS rep_id, w.week_start AS week_start,
           w.period_from AS period_from, p.plan_version AS plan_version,
           multiIf(w.role != '', w.role, r.role != '', r.role, p.default_role) AS role,
           dateDiff('second', greatest(w.week_start, p.effective_from, w.period_from),
                    least(w.week_start + INTERVAL 7 DAY, p.effective_to, w.period_to))
               AS overlap_s
    FROM {db}.rep_week_activity AS w
    INNER JOIN {db}.plan_periods AS p ON w.tenant = p.tenant
    LEFT JOIN (SELECT tenant, rep_id, role FROM {db}.reps FINAL) AS r
        ON w.tenant = r.tenant AND w.rep_id = r.rep_id
    WHERE overlap_s > 0
),
targets AS
(
    SELECT pc.tenant AS tenant, pc.rep_id AS rep_id, pc.week_start AS week_start,
           pc.period_from AS period_from, t.activity AS activity, any(pc.role) AS role,
           arrayStringConcat(arraySort(groupUniqArray(pc.plan_version)), '+') AS plan_version,
           if(t.activity = 'leads_touched_within_sla',
              sum(t.weekly_target * pc.overlap_s) / sum(pc.overlap_s),
              sum(t.weekly_target * pc.overlap_s) / 604800) AS target
    FROM pieces AS pc
    INNER JOIN (SELECT * FROM {db}.plan_activity_targets FINAL) AS t
        ON pc.tenant = t.tenant AND pc.plan_version = t.plan_version AND pc.role = t.role
    GROUP BY tenant, rep_id, week_start, period_from, activity
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
       AND w.period_from = t.period_from
LEFT JOIN lead_weeks AS lw
    ON w.tenant = lw.tenant AND w.rep_id = lw.rep_id AND w.week_start = lw.week_start;

-- Accounts by time since their last touch vs their tier's threshold (plan in force now). The
-- book starts from `accounts` (what each team owns, touched or not) plus every account seen in
-- activities: an account with no activity at all is untouched (untouched_s NULL, never seen).
CREATE OR REPLACE VIEW {db}.account_touch_status AS
WITH seen AS
(
    SELECT tenant, account_id, maxIf(occurred_at, is_touch = 1) AS last_touch_at,
           countIf(is_touch = 1) AS touches, min(occurred_at) AS first_seen_at,
           argMax(rep_id, occurred_at) AS last_rep_id, argMax(team_id, occurred_at) AS team_id,
           toUInt8(1) AS seen
    FROM {db}.activities
    WHERE account_id != ''
    GROUP BY tenant, account_id
),
book AS
(
    SELECT tenant, account_id FROM {db}.accounts FINAL
    UNION DISTINCT
    SELECT tenant, account_id FROM seen
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
    b.tenant AS tenant, b.account_id AS account_id,
    if(acc.team_id = '', s.team_id, acc.team_id) AS team_id,
    if(acc.owner_rep_id = '', s.last_rep_id, acc.owner_rep_id) AS rep_id,
    if(acc.tier = '', p.default_tier, acc.tier) AS tier,
    if(s.touches > 0, s.last_touch_at, NULL) AS last_touch_at,
    if(s.seen = 0, NULL,
       dateDiff('second', if(s.touches > 0, s.last_touch_at, s.first_seen_at),
                now64(3, 'UTC'))) AS untouched_s,
    t.untouched_after_s AS threshold_s,
    toUInt8(untouched_s IS NULL OR untouched_s > threshold_s) AS is_untouched
FROM book AS b
INNER JOIN current_plan AS p ON b.tenant = p.tenant
LEFT JOIN seen AS s ON b.tenant = s.tenant AND b.account_id = s.account_id
LEFT JOIN (SELECT * FROM {db}.accounts FINAL) AS acc
    ON b.tenant = acc.tenant AND b.account_id = acc.account_id
LEFT JOIN (SELECT * FROM {db}.plan_tiers FINAL) AS t
    ON b.tenant = t.tenant AND p.plan_version = t.plan_version AND tier = t.tier;
