-- rep_activity_vs_plan (0049) took an activity's count (UInt64), the share of leads touched
-- within the SLA (Float64) or -1 (Int8) from one multiIf. ClickHouse 25.8 (the compose's
-- server) finds no common type for the three, so the view, the activity-mix rule that reads it
-- and the panels and alerts over them failed there when read (a parameterized view is analysed
-- only then; tests/integration/test_clickhouse_25_8.py reads every view on 25.8). The counts are
-- cast to Float64, as the engines that accepted the earlier text (ClickHouse 26.9) made them
-- already: the same rows and columns.

CREATE OR REPLACE VIEW {db}.rep_activity_vs_plan AS
WITH
periods AS
(
    SELECT tenant, plan_version, effective_from,
           leadInFrame(effective_from, 1, toDateTime64('2106-01-01 00:00:00', 3, 'UTC'))
               OVER (PARTITION BY tenant ORDER BY effective_from
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS effective_to
    FROM {db}.plan_versions FINAL
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
      AND effective_from <= {now:DateTime64(3, 'UTC')}
),
windows AS
(
    SELECT tenant,
           greatest({now:DateTime64(3, 'UTC')} - INTERVAL 7 DAY, min(effective_from))
               AS window_start
    FROM periods
    GROUP BY tenant
),
-- the hour of the first touch ever of each prospect with a lead in the 7 days
first_hours AS
(
    SELECT tenant, entity_id AS prospect_id, min(bucket) AS first_hour
    FROM {db}.touch_counts
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND entity_type = 'prospect'
      AND bucket <= {now:DateTime64(3, 'UTC')}
      AND entity_id IN
          (SELECT prospect_id FROM {db}.activities
           WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND type = 'lead'
             AND prospect_id != ''
             AND occurred_at >= {now:DateTime64(3, 'UTC')} - INTERVAL 7 DAY
             AND occurred_at <= {now:DateTime64(3, 'UTC')})
    GROUP BY tenant, entity_id
),
actuals AS
(
    SELECT a.tenant AS tenant, a.rep_id AS rep_id,
           argMax(a.team_id, (a.occurred_at, a.team_id)) AS event_team_id,
           countIf(a.type = 'call' AND a.direction = 'outbound') AS call_attempts,
           countIf(a.type = 'call' AND a.direction = 'outbound' AND a.outcome = 'connected')
               AS connected_calls,
           countIf(a.type = 'email' AND a.email_action = 'sent') AS emails_sent,
           countIf(a.type = 'meeting' AND a.meeting_status = 'held') AS meetings_held
    FROM {db}.activities AS a
    INNER JOIN windows AS w ON a.tenant = w.tenant
    WHERE ({tenant:String} = '' OR a.tenant = {tenant:String})
      AND a.occurred_at >= w.window_start AND a.occurred_at <= {now:DateTime64(3, 'UTC')}
      AND a.occurred_at >= {now:DateTime64(3, 'UTC')} - INTERVAL 7 DAY
    GROUP BY a.tenant, a.rep_id
),
lead_times AS
(
    SELECT l.tenant AS tenant, l.rep_id AS rep_id, count() AS leads,
           countIf(ft.first_touch_at >= l.lead_at
                   AND dateDiff('second', l.lead_at, ft.first_touch_at) <= t.speed_to_lead_s)
               AS in_time
    FROM
    (
        SELECT ld.tenant AS tenant, ld.prospect_id AS prospect_id, ld.rep_id AS rep_id,
               ld.lead_at AS lead_at, p.plan_version AS plan_version,
               if(acc.tier = '', p.default_tier, acc.tier) AS tier
        FROM
        (
            SELECT a.tenant AS tenant, a.prospect_id AS prospect_id,
                   argMin(a.rep_id, a.occurred_at) AS rep_id,
                   argMin(a.account_id, a.occurred_at) AS account_id,
                   min(a.occurred_at) AS lead_at
            FROM {db}.activities AS a
            INNER JOIN windows AS w ON a.tenant = w.tenant
            WHERE ({tenant:String} = '' OR a.tenant = {tenant:String}) AND a.type = 'lead'
              AND a.prospect_id != '' AND a.occurred_at >= w.window_start
              AND a.occurred_at >= {now:DateTime64(3, 'UTC')} - INTERVAL 7 DAY
              AND a.occurred_at <= {now:DateTime64(3, 'UTC')}
            GROUP BY a.tenant, a.prospect_id
        ) AS ld
        INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')})
            AS p ON ld.tenant = p.tenant
        LEFT JOIN (SELECT tenant, account_id, tier FROM {db}.accounts FINAL
                   WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS acc
            ON ld.tenant = acc.tenant AND ld.account_id = acc.account_id
    ) AS l
    INNER JOIN (SELECT tenant, plan_version, tier, speed_to_lead_s FROM {db}.plan_tiers FINAL
                WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS t
        ON l.tenant = t.tenant AND l.plan_version = t.plan_version AND l.tier = t.tier
    LEFT JOIN
    (
        SELECT tenant, prospect_id, min(occurred_at) AS first_touch_at
        FROM {db}.activities
        WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND is_touch = 1
          AND prospect_id != '' AND occurred_at <= {now:DateTime64(3, 'UTC')}
          AND toDate(occurred_at) IN (SELECT toDate(first_hour) FROM first_hours)
          AND (tenant, prospect_id, toStartOfHour(occurred_at)) IN
              (SELECT tenant, prospect_id, first_hour FROM first_hours)
        GROUP BY tenant, prospect_id
    ) AS ft ON l.tenant = ft.tenant AND l.prospect_id = ft.prospect_id
    WHERE ft.first_touch_at >= l.lead_at
       OR dateDiff('second', l.lead_at, {now:DateTime64(3, 'UTC')}) > t.speed_to_lead_s
    GROUP BY l.tenant, l.rep_id
),
rep_roles AS
(
    SELECT ac.tenant AS tenant, ac.rep_id AS rep_id,
           if(r.role = '', p.default_role, r.role) AS role,
           if(r.team_id = '', ac.event_team_id, r.team_id) AS team_id,
           ac.call_attempts AS call_attempts, ac.connected_calls AS connected_calls,
           ac.emails_sent AS emails_sent, ac.meetings_held AS meetings_held
    FROM actuals AS ac
    INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
        ON ac.tenant = p.tenant
    LEFT JOIN {db}.rep_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS r
        ON ac.tenant = r.tenant AND ac.rep_id = r.rep_id
),
-- each rep's target per activity, with the rep's role, team and counts (one row per rep in
-- rep_roles): the query below reads only this, so the actuals are counted once
planned AS
(
    SELECT rr.tenant AS tenant, rr.rep_id AS rep_id, t.activity AS activity,
           if(t.activity = 'leads_touched_within_sla',
              sum(t.weekly_target * pd.overlap_s) / sum(pd.overlap_s),
              sum(t.weekly_target * pd.overlap_s) / 604800) AS planned,
           arraySort(x -> x.3, groupArray((t.weekly_target, pd.overlap_s, pd.plan_version)))
               AS pieces,
           any(rr.role) AS role, any(rr.team_id) AS team_id,
           any(rr.call_attempts) AS call_attempts, any(rr.connected_calls) AS connected_calls,
           any(rr.emails_sent) AS emails_sent, any(rr.meetings_held) AS meetings_held
    FROM rep_roles AS rr
    INNER JOIN
    (
        SELECT pr.tenant AS tenant, pr.plan_version AS plan_version,
               dateDiff('second', greatest(w.window_start, pr.effective_from),
                        least({now:DateTime64(3, 'UTC')}, pr.effective_to)) AS overlap_s
        FROM periods AS pr
        INNER JOIN windows AS w ON pr.tenant = w.tenant
        WHERE overlap_s > 0
    ) AS pd ON rr.tenant = pd.tenant
    INNER JOIN (SELECT * FROM {db}.plan_activity_targets FINAL
                WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS t
        ON pd.tenant = t.tenant AND pd.plan_version = t.plan_version AND rr.role = t.role
    GROUP BY rr.tenant, rr.rep_id, t.activity
)
SELECT
    pl.tenant AS tenant, pl.rep_id AS rep_id, pl.team_id AS team_id, pl.role AS role,
    pl.activity AS activity, p.plan_version AS plan_version, w.window_start AS window_start,
    dateDiff('second', w.window_start, {now:DateTime64(3, 'UTC')}) AS elapsed_s,
    pl.call_attempts AS call_attempts, pl.emails_sent AS emails_sent,
    -- a percent target without any lead in the window has nothing to judge: -1, left out
    toFloat64(multiIf(pl.activity = 'call_attempts', toFloat64(pl.call_attempts),
                      pl.activity = 'connected_calls', toFloat64(pl.connected_calls),
                      pl.activity = 'emails_sent', toFloat64(pl.emails_sent),
                      pl.activity = 'meetings_held', toFloat64(pl.meetings_held),
                      lt.leads > 0,
                      round(100 * lt.in_time / greatest(lt.leads, 1)),
                      -1)) AS actual,
    pl.planned AS planned, pl.pieces AS pieces,
    actual / pl.planned AS ratio,
    p.activity_mix_min_ratio AS min_ratio,
    p.activity_mix_min_elapsed_s AS min_elapsed_s
FROM planned AS pl
INNER JOIN windows AS w ON pl.tenant = w.tenant
INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
    ON pl.tenant = p.tenant
LEFT JOIN lead_times AS lt ON pl.tenant = lt.tenant AND pl.rep_id = lt.rep_id
WHERE actual >= 0
  AND if(pl.activity = 'leads_touched_within_sla', pl.planned > 0, pl.planned >= 1);
