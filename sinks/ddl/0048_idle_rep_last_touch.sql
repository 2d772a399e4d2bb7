-- rule_idle_reps (0013) found each rep's last touch by grouping every touch of the 90 days per
-- rep, every Coach pass: over 100M activities of a 2,000-rep org (the benchmark's `org` shape,
-- 18M touches in 90 days) 0.44-0.49 s of a 2.0-2.2 s pass. The last hour in which each rep
-- touched someone is in `activity_by_rep_hour` (0010, fed by the same insert); the exact moment,
-- channel and team are read from the raw rows of that hour and of the hour of `now`, whose days
-- the activities key finds. Same rows (tests/dashboards/test_rule_view_rewrites.py keeps 0013's
-- text as the reference).

CREATE OR REPLACE VIEW {db}.rule_idle_reps AS
WITH
-- each rep's last hour with a touch before the hour of `now`, within the 90 days
last_hours AS
(
    SELECT tenant, rep_id, max(bucket) AS last_hour
    FROM {db}.activity_by_rep_hour
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND rep_id != '' AND touches > 0
      AND bucket < toStartOfHour({now:DateTime64(3, 'UTC')})
      AND bucket >= toStartOfHour({now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY)
    GROUP BY tenant, rep_id
)
SELECT a.tenant AS tenant, a.rep_id AS rep_id,
       if(r.team_id = '', a.event_team_id, r.team_id) AS team_id,
       a.last_touch_at AS last_touch_at, a.last_channel AS last_channel,
       dateDiff('second', a.last_touch_at, {now:DateTime64(3, 'UTC')}) AS idle_s,
       p.idle_rep_after_s AS idle_after_s, p.plan_version AS plan_version
FROM
(
    -- the last touch at or before `now`: in the hour of `now`, or else in that last hour
    SELECT tenant, rep_id, max(occurred_at) AS last_touch_at,
           argMax(channel, occurred_at) AS last_channel, argMax(team_id, occurred_at)
               AS event_team_id
    FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND is_touch = 1 AND rep_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
      AND (occurred_at >= toStartOfHour({now:DateTime64(3, 'UTC')})
           OR (toDate(occurred_at) IN (SELECT toDate(last_hour) FROM last_hours)
               AND (tenant, rep_id, toStartOfHour(occurred_at)) IN
                   (SELECT tenant, rep_id, last_hour FROM last_hours)))
    GROUP BY tenant, rep_id
) AS a
INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
    ON a.tenant = p.tenant
LEFT JOIN {db}.rep_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS r
    ON a.tenant = r.tenant AND a.rep_id = r.rep_id
WHERE p.idle_rep_after_s > 0 AND idle_s > p.idle_rep_after_s
  AND (a.tenant, a.rep_id) NOT IN
      (SELECT tenant, rep_id FROM {db}.rep_periods
       WHERE ({tenant:String} = '' OR tenant = {tenant:String})
       GROUP BY tenant, rep_id
       HAVING max(active_to) <= {now:DateTime64(3, 'UTC')});
