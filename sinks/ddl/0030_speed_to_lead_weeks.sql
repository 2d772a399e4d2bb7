-- A week in which no new lead reached a rep has nothing to judge on speed to lead: its
-- `leads_touched_within_sla` actual and attainment are NULL (they read 100 % before), so the
-- team variation (attainment IS NOT NULL) and the digest leave that week out, as the
-- activity-vs-plan rule does (0013_rules.sql). The view is otherwise as in 0011_org.sql.

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
           toNullable(round(100 * avg(within_sla))) AS leads_touched_within_sla
    FROM {db}.speed_to_lead
    GROUP BY tenant, rep_id, week_start
)
SELECT
    w.tenant AS tenant, w.rep_id AS rep_id, w.team_id AS team_id, w.week_start AS week_start,
    t.role AS role, t.plan_version AS plan_version, t.activity AS activity,
    CAST(multiIf(t.activity = 'call_attempts', toFloat64(w.call_attempts),
                      t.activity = 'connected_calls', toFloat64(w.connected_calls),
                      t.activity = 'emails_sent', toFloat64(w.emails_sent),
                      t.activity = 'meetings_held', toFloat64(w.meetings_held),
                      lw.leads_touched_within_sla) AS Nullable(Float64)) AS actual,
    round(t.target, 1) AS target,
    if(t.target = 0, NULL, actual / t.target) AS attainment
FROM {db}.rep_week_activity AS w
INNER JOIN targets AS t
    ON w.tenant = t.tenant AND w.rep_id = t.rep_id AND w.week_start = t.week_start
       AND w.period_from = t.period_from
LEFT JOIN lead_weeks AS lw
    ON w.tenant = lw.tenant AND w.rep_id = lw.rep_id AND w.week_start = lw.week_start;
