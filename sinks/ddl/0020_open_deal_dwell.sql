-- Open deals without the activity scan. open_deals_vs_sla (0013) joins every touch on a deal's
-- account and every event naming it to find the deal's last activity; ClickHouse builds that
-- join's right side (all touches of the tenant) before it looks at a single deal, for every
-- reader, whether or not the caller reads the last activity. The deal panels and the
-- stuck-deal rule need only the dwell in the current stage and the stage SLA, so those now come
-- from open_deal_dwell, and open_deals_vs_sla adds the last activity on top of it (same rows,
-- same columns as before). The last-activity join now builds its hash table from the open
-- deals, not from the touches.

-- Every open deal with its dwell in the current stage and the stage SLA of its segment (the
-- account's, else the plan's default segment; 0 when the plan has none).
CREATE VIEW IF NOT EXISTS {db}.open_deal_dwell AS
SELECT d.tenant AS tenant, d.opportunity_id AS opportunity_id, d.account_id AS account_id,
       d.rep_id AS rep_id, d.team_id AS team_id, d.stage AS stage, d.entered_at AS entered_at,
       d.segment AS segment, d.plan_version AS plan_version, d.dwell_s AS dwell_s,
       s.sla_s AS sla_s, d.inactive_after_s AS inactive_after_s
FROM
(
    SELECT st.tenant AS tenant, st.opportunity_id AS opportunity_id,
           st.account_id AS account_id, st.rep_id AS rep_id, st.team_id AS team_id,
           st.current_stage AS stage, st.stage_entered_at AS entered_at,
           if(a.segment = '', p.default_segment, a.segment) AS segment,
           p.plan_version AS plan_version, p.deal_inactive_after_s AS inactive_after_s,
           dateDiff('second', st.stage_entered_at, {now:DateTime64(3, 'UTC')}) AS dwell_s
    FROM (SELECT * FROM {db}.opportunity_state FINAL
          WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND is_closed = 0) AS st
    INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
        ON st.tenant = p.tenant
    LEFT JOIN (SELECT tenant, account_id, segment FROM {db}.accounts FINAL
               WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS a
        ON st.tenant = a.tenant AND st.account_id = a.account_id
    WHERE NOT has(p.closed_stages, st.current_stage)
) AS d
LEFT JOIN (SELECT tenant, plan_version, segment, stage, sla_s FROM {db}.plan_stage_slas FINAL
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS s
    ON d.tenant = s.tenant AND d.plan_version = s.plan_version AND d.segment = s.segment
       AND d.stage = s.stage;

-- open_deal_dwell plus the time since anything happened on the deal (a stage change, a touch
-- on its account or an event naming it).
CREATE OR REPLACE VIEW {db}.open_deals_vs_sla AS
WITH last_activity AS
(
    SELECT tenant, opportunity_id, max(at) AS last_activity_at
    FROM
    (
        SELECT x.tenant AS tenant, d.opportunity_id AS opportunity_id, x.occurred_at AS at
        FROM (SELECT tenant, account_id, occurred_at FROM {db}.activities
              WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND is_touch = 1
                AND account_id != '' AND occurred_at <= {now:DateTime64(3, 'UTC')}) AS x
        INNER JOIN (SELECT tenant, account_id, opportunity_id
                    FROM {db}.open_deal_dwell(tenant = {tenant:String},
                                              now = {now:DateTime64(3, 'UTC')})) AS d
            ON x.tenant = d.tenant AND x.account_id = d.account_id
        UNION ALL
        SELECT tenant, opportunity_id, occurred_at AS at FROM {db}.activities
        WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND opportunity_id != ''
          AND occurred_at <= {now:DateTime64(3, 'UTC')}
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
FROM {db}.open_deal_dwell(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS d
LEFT JOIN last_activity AS l ON d.tenant = l.tenant AND d.opportunity_id = l.opportunity_id;

-- Stuck deal: dwell in the current stage past that stage's SLA for the deal's segment.
CREATE OR REPLACE VIEW {db}.rule_stuck_deals AS
SELECT tenant, opportunity_id, account_id, rep_id, team_id, stage, entered_at, segment,
       plan_version, dwell_s, sla_s
FROM {db}.open_deal_dwell(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')})
WHERE sla_s > 0 AND dwell_s > sla_s;
