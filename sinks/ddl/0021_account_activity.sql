-- One row of state per account: what accounts_vs_touch_limit (0013) read from every activity of
-- the tenant's whole history for each request ("Accounts going quiet", the untouched-account
-- rule): first and last event, last touch, its channel, touch count, the last rep and team.
-- A materialized view fed by the same insert as `activities` keeps it (as the 0010 rollups);
-- the view below reads it and returns exactly what it returned from the raw rows
-- (tests/dashboards/test_rollup_equivalence.py keeps the old SQL as the reference).
--
-- Judging a moment `now`: an account whose every event is at or before `now` has the same
-- figures in the rollup as in the rows up to `now`; an account with an event after `now` (a
-- past `now`, or an event time in the future) is computed from its raw rows as before. With
-- none of those, the raw branch reads nothing (its condition is a constant false).
--
-- Backfill, writers and retries: as 0010 (filled while empty, before its view exists; run it
-- with the writers stopped; deduplicated retried blocks never reach it twice).

CREATE TABLE IF NOT EXISTS {db}.account_activity
(
    tenant        LowCardinality(String),
    account_id    String,
    first_seen_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen_at  SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    last_touch_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    touches       SimpleAggregateFunction(sum, UInt64),
    last_channel  AggregateFunction(argMaxIf, String, DateTime64(3, 'UTC'), UInt8),
    last_rep_id   AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    last_team_id  AggregateFunction(argMax, String, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, account_id)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {db}.account_activity
SELECT tenant, account_id, min(occurred_at), max(occurred_at), maxIf(occurred_at, is_touch = 1),
       countIf(is_touch = 1), argMaxIfState(toString(channel), occurred_at, is_touch = 1),
       argMaxState(rep_id, occurred_at), argMaxState(toString(team_id), occurred_at)
FROM {db}.activities
WHERE account_id != '' AND (SELECT count() FROM {db}.account_activity) = 0
GROUP BY tenant, account_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.account_activity_mv TO {db}.account_activity AS
SELECT tenant, account_id, min(occurred_at) AS first_seen_at, max(occurred_at) AS last_seen_at,
       maxIf(occurred_at, is_touch = 1) AS last_touch_at, countIf(is_touch = 1) AS touches,
       argMaxIfState(toString(channel), occurred_at, is_touch = 1) AS last_channel,
       argMaxState(rep_id, occurred_at) AS last_rep_id,
       argMaxState(toString(team_id), occurred_at) AS last_team_id
FROM {db}.activities
WHERE account_id != ''
GROUP BY tenant, account_id;

-- 0013's view, its book and `seen` read from account_activity (same rows, same columns).
CREATE OR REPLACE VIEW {db}.accounts_vs_touch_limit AS
WITH book AS
(
    SELECT tenant, account_id FROM {db}.accounts FINAL
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
    UNION DISTINCT
    SELECT DISTINCT tenant, account_id FROM {db}.account_activity
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
      AND first_seen_at <= {now:DateTime64(3, 'UTC')}
),
seen AS
(
    SELECT tenant, account_id, last_touch_at, last_channel, touches, first_seen_at,
           last_rep_id, team_id
    FROM
    (
        SELECT tenant, account_id, max(last_touch_at) AS last_touch_at,
               argMaxIfMerge(last_channel) AS last_channel, sum(touches) AS touches,
               min(first_seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at,
               argMaxMerge(last_rep_id) AS last_rep_id, argMaxMerge(last_team_id) AS team_id
        FROM {db}.account_activity
        WHERE ({tenant:String} = '' OR tenant = {tenant:String})
        GROUP BY tenant, account_id
    )
    WHERE last_seen_at <= {now:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT tenant, account_id, maxIf(occurred_at, is_touch = 1) AS last_touch_at,
           argMaxIf(toString(channel), occurred_at, is_touch = 1) AS last_channel,
           countIf(is_touch = 1) AS touches, min(occurred_at) AS first_seen_at,
           argMax(rep_id, occurred_at) AS last_rep_id,
           argMax(toString(team_id), occurred_at) AS team_id
    FROM {db}.activities
    WHERE (SELECT count() FROM {db}.account_activity
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})
             AND last_seen_at > {now:DateTime64(3, 'UTC')}) > 0
      AND ({tenant:String} = '' OR tenant = {tenant:String}) AND account_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND (tenant, account_id) IN (
          SELECT tenant, account_id FROM {db}.account_activity
          WHERE ({tenant:String} = '' OR tenant = {tenant:String})
            AND last_seen_at > {now:DateTime64(3, 'UTC')})
    GROUP BY tenant, account_id
)
SELECT
    b.tenant AS tenant, b.account_id AS account_id,
    if(a.name = '', b.account_id, a.name) AS account_name,
    if(a.owner_rep_id = '', s.last_rep_id, a.owner_rep_id) AS rep_id,
    if(a.team_id = '', s.team_id, a.team_id) AS team_id,
    if(a.tier = '', p.default_tier, a.tier) AS tier,
    p.plan_version AS plan_version,
    if(s.touches > 0, s.last_touch_at, NULL) AS last_touch_at,
    s.last_channel AS last_channel, s.touches AS touches,
    if(s.account_id = '', NULL,
       dateDiff('second', if(s.touches > 0, s.last_touch_at, s.first_seen_at),
                {now:DateTime64(3, 'UTC')})) AS untouched_s,
    t.untouched_after_s AS threshold_s
FROM book AS b
INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
    ON b.tenant = p.tenant
LEFT JOIN seen AS s ON b.tenant = s.tenant AND b.account_id = s.account_id
LEFT JOIN (SELECT * FROM {db}.accounts FINAL
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS a
    ON b.tenant = a.tenant AND b.account_id = a.account_id
INNER JOIN (SELECT tenant, plan_version, tier, untouched_after_s FROM {db}.plan_tiers FINAL
            WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS t
    ON p.tenant = t.tenant AND p.plan_version = t.plan_version AND tier = t.tier;
