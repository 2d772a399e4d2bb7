-- open_deals_vs_sla (0044) named `deals` (the open_deal_dwell view) twice, in its final query
-- and in `last_activity`; the engine computes a WITH clause wherever it is named, so each
-- evaluation judged every open deal's dwell twice. The account's latest touch and the deal's
-- latest event are now joined to the deals once. Same rows and columns
-- (tests/dashboards/test_rule_view_rewrites.py keeps 0013's text as the reference).

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
)
SELECT
    d.tenant AS tenant, d.opportunity_id AS opportunity_id, d.account_id AS account_id,
    d.rep_id AS rep_id, d.team_id AS team_id, d.stage AS stage, d.entered_at AS entered_at,
    d.segment AS segment, d.plan_version AS plan_version, d.dwell_s AS dwell_s,
    d.sla_s AS sla_s,
    -- one row or none each: the rollup and raw branches of either never hold the same key
    greatest(d.entered_at, t.at, n.at) AS last_activity_at,
    dateDiff('second', last_activity_at, {now:DateTime64(3, 'UTC')}) AS inactive_s,
    d.inactive_after_s AS inactive_after_s
FROM deals AS d
LEFT JOIN account_touched AS t ON d.tenant = t.tenant AND d.account_id = t.account_id
LEFT JOIN deal_named AS n ON d.tenant = n.tenant AND d.opportunity_id = n.opportunity_id;
