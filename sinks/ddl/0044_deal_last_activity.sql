-- The inactive-deal rule (`rule_inactive_deals`, every Coach pass) reads `open_deals_vs_sla`,
-- whose last activity of a deal (0020) is the latest touch on its account or event naming it:
-- it joined every touch of the tenant's whole history to the open deals and read the
-- `opportunity_id` of every row. Over 100M activities of a 2,000-rep org (500 days, the
-- benchmark's `org` shape) that was 6.6 s of a 14.6 s pass. The latest touch per account is
-- already kept by `account_activity` (0021); the latest event per deal is now kept the same
-- way, in `opportunity_activity`, filled by the same insert as `activities`.
--
-- Both keep the latest moment of all time. Where it is after `now` (a pass or a panel judging
-- a past moment, or events stamped ahead of the clock), that account's or deal's latest moment
-- at or before `now` is read from its raw rows, as `accounts_vs_touch_limit` does (0035). Only
-- the accounts of open deals are read from `account_activity` (600k activities over 200k
-- accounts: 0.23-0.25 s, as the 0020 text's 0.20-0.25 s; 0.28-0.35 s reading every account,
-- `bench/pass_rules_ab.py`). The view returns exactly the rows the 0013 text returned
-- (tests/dashboards/test_rule_view_rewrites.py keeps it as the reference).
--
-- Costs: the materialized view runs on every insert (~0.75 us of store CPU per event of 10,000-row
-- inserts, `bench/insert_cost.py`, within its run-to-run spread). Judging a moment days back
-- on a store where every account has had events since reads their raw rows: 8.3-9.3 s over
-- 100M rows, against 5.4 s for the 0020 text (a pass judges now).
--
-- Backfill, writers and retries: as 0010 (filled while empty, before its view exists; run it
-- with the writers stopped; a retried block changes no max()).

CREATE TABLE IF NOT EXISTS {db}.opportunity_activity
(
    tenant         LowCardinality(String),
    opportunity_id String,
    last_seen_at   SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, opportunity_id)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {db}.opportunity_activity
SELECT tenant, opportunity_id, max(occurred_at)
FROM {db}.activities
WHERE opportunity_id != '' AND (SELECT count() FROM {db}.opportunity_activity) = 0
GROUP BY tenant, opportunity_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.opportunity_activity_mv
TO {db}.opportunity_activity AS
SELECT tenant, opportunity_id, max(occurred_at) AS last_seen_at
FROM {db}.activities
WHERE opportunity_id != ''
GROUP BY tenant, opportunity_id;

-- 0020's open_deals_vs_sla, its last activity read from the two rollups.
CREATE OR REPLACE VIEW {db}.open_deals_vs_sla AS
WITH
deals AS
(
    SELECT * FROM {db}.open_deal_dwell(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')})
),
-- the latest touch on each account at or before `now`
account_touched AS
(
    SELECT tenant, account_id, max(last_touch_at) AS at
    FROM {db}.account_activity
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
      AND account_id IN (SELECT account_id FROM {db}.opportunity_state
                         WHERE ({tenant:String} = '' OR tenant = {tenant:String})
                           AND is_closed = 0)
    GROUP BY tenant, account_id
    HAVING max(last_seen_at) <= {now:DateTime64(3, 'UTC')} AND sum(touches) > 0
    UNION ALL
    SELECT tenant, account_id, max(occurred_at) AS at
    FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND is_touch = 1
      AND account_id != '' AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND (tenant, account_id) IN (
          SELECT tenant, account_id FROM {db}.account_activity
          WHERE ({tenant:String} = '' OR tenant = {tenant:String})
            AND last_seen_at > {now:DateTime64(3, 'UTC')})
    GROUP BY tenant, account_id
),
-- the latest event naming each deal at or before `now`
deal_named AS
(
    SELECT tenant, opportunity_id, max(last_seen_at) AS at
    FROM {db}.opportunity_activity
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
    GROUP BY tenant, opportunity_id
    HAVING at <= {now:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT tenant, opportunity_id, max(occurred_at) AS at
    FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND opportunity_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND (tenant, opportunity_id) IN (
          SELECT tenant, opportunity_id FROM {db}.opportunity_activity
          WHERE ({tenant:String} = '' OR tenant = {tenant:String})
            AND last_seen_at > {now:DateTime64(3, 'UTC')})
    GROUP BY tenant, opportunity_id
),
last_activity AS
(
    SELECT tenant, opportunity_id, max(at) AS last_activity_at
    FROM
    (
        SELECT d.tenant AS tenant, d.opportunity_id AS opportunity_id, t.at AS at
        FROM deals AS d
        INNER JOIN account_touched AS t ON d.tenant = t.tenant AND d.account_id = t.account_id
        UNION ALL
        SELECT tenant, opportunity_id, at FROM deal_named
    )
    GROUP BY tenant, opportunity_id
)
SELECT
    d.tenant AS tenant, d.opportunity_id AS opportunity_id, d.account_id AS account_id,
    d.rep_id AS rep_id, d.team_id AS team_id, d.stage AS stage, d.entered_at AS entered_at,
    d.segment AS segment, d.plan_version AS plan_version, d.dwell_s AS dwell_s,
    d.sla_s AS sla_s,
    greatest(d.entered_at, l.last_activity_at) AS last_activity_at,
    dateDiff('second', last_activity_at, {now:DateTime64(3, 'UTC')}) AS inactive_s,
    d.inactive_after_s AS inactive_after_s
FROM deals AS d
LEFT JOIN last_activity AS l ON d.tenant = l.tenant AND d.opportunity_id = l.opportunity_id;
