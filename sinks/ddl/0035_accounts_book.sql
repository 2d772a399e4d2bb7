-- accounts_vs_touch_limit (0021) without its `book` step: the union of the tenant's accounts
-- table and every account seen in activities, made distinct, then joined to `seen` and to
-- `accounts` again. An account seen at or before `now` is exactly an account `seen` has a row
-- for (the rollup branch, or the raw branch when it has an event after `now`), so one FULL JOIN
-- of `seen` and `accounts` is that book with both sides already on it: the same rows and
-- columns (tests/dashboards/test_rule_view_rewrites.py compares it with the 0013 text). Over
-- 200k accounts: the view 667 -> 293 ms of store CPU, "Accounts going quiet" 943 -> 506 ms.
CREATE OR REPLACE VIEW {db}.accounts_vs_touch_limit AS
WITH seen AS
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
),
book AS
(
    SELECT if(s.account_id = '', a.tenant, s.tenant) AS tenant,
           if(s.account_id = '', a.account_id, s.account_id) AS account_id,
           a.name AS name, a.owner_rep_id AS owner_rep_id, a.team_id AS book_team_id,
           a.tier AS book_tier, s.account_id AS seen_account_id, s.last_touch_at AS last_touch_at,
           s.last_channel AS last_channel, s.touches AS touches,
           s.first_seen_at AS first_seen_at, s.last_rep_id AS last_rep_id,
           s.team_id AS seen_team_id
    FROM seen AS s
    FULL OUTER JOIN (SELECT * FROM {db}.accounts FINAL
                     WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS a
        ON s.tenant = a.tenant AND s.account_id = a.account_id
)
SELECT
    b.tenant AS tenant, b.account_id AS account_id,
    if(b.name = '', b.account_id, b.name) AS account_name,
    if(b.owner_rep_id = '', b.last_rep_id, b.owner_rep_id) AS rep_id,
    if(b.book_team_id = '', b.seen_team_id, b.book_team_id) AS team_id,
    if(b.book_tier = '', p.default_tier, b.book_tier) AS tier,
    p.plan_version AS plan_version,
    if(b.touches > 0, b.last_touch_at, NULL) AS last_touch_at,
    b.last_channel AS last_channel, b.touches AS touches,
    if(b.seen_account_id = '', NULL,
       dateDiff('second', if(b.touches > 0, b.last_touch_at, b.first_seen_at),
                {now:DateTime64(3, 'UTC')})) AS untouched_s,
    t.untouched_after_s AS threshold_s
FROM book AS b
INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
    ON b.tenant = p.tenant
INNER JOIN (SELECT tenant, plan_version, tier, untouched_after_s FROM {db}.plan_tiers FINAL
            WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS t
    ON p.tenant = t.tenant AND p.plan_version = t.plan_version AND tier = t.tier;
