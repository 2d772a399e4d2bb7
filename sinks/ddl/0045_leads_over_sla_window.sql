-- Lead over the speed-to-lead SLA (0013): a lead of the last 30 days with no touch since it
-- came in. 0013 looked for the lead's last touch in the prospect's whole history: every
-- Coach pass read the prospect column of every touch ever made (1.7 s over 100M activities of
-- a 2,000-rep org, with no lead among them). A lead came in within the 30 days, so a touch at
-- or after it is within them too: touches are read from the 30 days only. A prospect whose
-- touches are all older has no row there, as one never touched, and both are untouched since
-- the lead, as in 0013. Same rows (tests/dashboards/test_rule_view_rewrites.py keeps the 0013
-- text as the reference).
CREATE OR REPLACE VIEW {db}.rule_leads_over_sla AS
WITH leads AS
(
    SELECT tenant, prospect_id, argMin(account_id, occurred_at) AS account_id,
           argMin(rep_id, occurred_at) AS rep_id, argMin(team_id, occurred_at) AS team_id,
           min(occurred_at) AS lead_at
    FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND type = 'lead'
      AND prospect_id != '' AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL 30 DAY
    GROUP BY tenant, prospect_id
),
touched AS
(
    SELECT tenant, prospect_id, max(occurred_at) AS last_touch_at
    FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND is_touch = 1
      AND prospect_id != '' AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL 30 DAY
      AND prospect_id IN (SELECT prospect_id FROM leads)
    GROUP BY tenant, prospect_id
)
SELECT l.tenant AS tenant, l.prospect_id AS prospect_id, l.account_id AS account_id,
       l.rep_id AS rep_id, l.team_id AS team_id, l.lead_at AS lead_at,
       if(a.tier = '', p.default_tier, a.tier) AS tier,
       p.plan_version AS plan_version,
       dateDiff('second', l.lead_at, {now:DateTime64(3, 'UTC')}) AS waiting_s,
       t.speed_to_lead_s AS sla_s
FROM leads AS l
INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
    ON l.tenant = p.tenant
LEFT JOIN (SELECT tenant, account_id, tier FROM {db}.accounts FINAL
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS a
    ON l.tenant = a.tenant AND l.account_id = a.account_id
INNER JOIN (SELECT tenant, plan_version, tier, speed_to_lead_s FROM {db}.plan_tiers FINAL
            WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS t
    ON p.tenant = t.tenant AND p.plan_version = t.plan_version AND tier = t.tier
LEFT JOIN touched AS tt ON l.tenant = tt.tenant AND l.prospect_id = tt.prospect_id
WHERE (tt.prospect_id = '' OR tt.last_touch_at < l.lead_at) AND waiting_s > sla_s;
