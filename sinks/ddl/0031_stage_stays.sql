-- A stay: consecutive visits of one opportunity to the same plan stage, as one. A CRM's own
-- stages can map to one plan stage (Salesforce's "Prospecting", "Qualification" and "Needs
-- Analysis" are all `discovery`), and `stage_visits` keeps one row per change, so a deal
-- moving through them is three visits of `discovery` there and one stay here. The stay is
-- credited like its first visit (rep, team, account of the change that entered it); it is
-- finished when its last visit is, and its dwell is the sum of its visits'.
CREATE OR REPLACE VIEW {db}.stage_stays AS
SELECT
    v.tenant AS tenant, v.opportunity_id AS opportunity_id, v.stage AS stage,
    argMin(v.account_id, v.entered_at) AS account_id,
    argMin(v.rep_id, v.entered_at) AS rep_id,
    argMin(v.team_id, v.entered_at) AS team_id,
    min(v.entered_at) AS entered_at,
    argMin(v.entered_event_id, v.entered_at) AS entered_event_id,
    if(countIf(v.exited_at IS NULL) > 0, NULL, max(v.exited_at)) AS exited_at,
    argMax(v.next_stage, v.entered_at) AS next_stage,
    if(exited_at IS NULL, NULL, sum(assumeNotNull(v.dwell_s))) AS dwell_s,
    count() AS visits,
    arrayMap(x -> x.2, arraySort(groupArray((v.entered_at, v.vendor_stage))))
        AS vendor_stages,
    max(v.is_closed) AS is_closed,
    max(v.is_won) AS is_won
FROM
(
    SELECT *, sum(starts_stay) OVER (PARTITION BY tenant, opportunity_id
                                     ORDER BY entered_at, entered_event_id
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS stay
    FROM
    (
        SELECT *, stage != lagInFrame(toString(stage), 1, '') OVER (
                      PARTITION BY tenant, opportunity_id ORDER BY entered_at, entered_event_id
                      ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS starts_stay
        FROM {db}.stage_visits FINAL
    )
) AS v
GROUP BY v.tenant, v.opportunity_id, v.stay, v.stage;

-- Stage dwell by motion and product line, per finished stay (0009 counted visits, so one
-- stay through three CRM stages of one plan stage counted three times, each a third long).
CREATE OR REPLACE VIEW {db}.motion_stage_dwell AS
SELECT
    v.tenant AS tenant,
    toDateTime64(toMonday(assumeNotNull(v.exited_at)), 3, 'UTC') AS week_start,
    ifNull(o.motion, 'unspecified') AS motion,
    ifNull(o.product_line, 'unspecified') AS product_line,
    v.team_id AS team_id,
    v.rep_id AS rep_id,
    if(ifNull(acc.segment, '') = '', 'unknown', acc.segment) AS segment,
    v.stage AS stage,
    count() AS visits,
    round(avg(assumeNotNull(v.dwell_s)) / 86400, 2) AS avg_dwell_days,
    round(quantileExact(0.5)(assumeNotNull(v.dwell_s)) / 86400, 2) AS median_dwell_days,
    round(max(assumeNotNull(v.dwell_s)) / 86400, 2) AS max_dwell_days
FROM (SELECT * FROM {db}.stage_stays WHERE exited_at IS NOT NULL) AS v
LEFT JOIN {db}.opportunity_motion AS o
    ON v.tenant = o.tenant AND v.opportunity_id = o.opportunity_id
LEFT JOIN (SELECT tenant, account_id, segment FROM {db}.accounts FINAL) AS acc
    ON v.tenant = acc.tenant AND v.account_id = acc.account_id
GROUP BY tenant, week_start, motion, product_line, team_id, rep_id, segment, stage
SETTINGS join_use_nulls = 1;
