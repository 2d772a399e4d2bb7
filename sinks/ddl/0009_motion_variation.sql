-- Inspect: variation by sales motion (acquisition / retention / upsell) and product line, per
-- rep, team and account segment. Views only. A touch counts under its own event's motion and
-- product line. An opportunity counts under the latest motion and product line that any of its
-- stage changes named. It belongs to its latest rep. Unset motion or product line reads
-- 'unspecified'; an account missing from `accounts` reads segment 'unknown'. Won and lost
-- stages are those `touchline report cadences` uses.

-- One row per opportunity: motion, product line, owner, opened / won / lost times.
CREATE VIEW IF NOT EXISTS {db}.opportunity_motion AS
SELECT
    tenant,
    opportunity_id,
    argMax(rep_id, occurred_at) AS rep_id,
    argMax(team_id, occurred_at) AS team_id,
    argMin(account_id, occurred_at) AS account_id,
    if(countIf(motion != '') = 0, 'unspecified', argMaxIf(motion, occurred_at, motion != ''))
        AS motion,
    if(countIf(product_line != '') = 0, 'unspecified',
       argMaxIf(product_line, occurred_at, product_line != '')) AS product_line,
    min(occurred_at) AS opened_at,
    countIf(to_stage IN ('won', 'closed_won')) > 0 AS is_won,
    countIf(to_stage IN ('lost', 'closed_lost')) > 0 AND NOT is_won AS is_lost,
    if(is_won, minIf(occurred_at, to_stage IN ('won', 'closed_won')),
       minIf(occurred_at, to_stage IN ('lost', 'closed_lost'))) AS closed_at
FROM {db}.activities
WHERE type = 'stage_change' AND opportunity_id != ''
GROUP BY tenant, opportunity_id;

-- Per tenant, ISO week (Monday, UTC), motion, product line, team, rep and segment: touches by
-- channel, connected calls, replies, meetings held, and opportunities opened / won / lost (in
-- the week they opened / closed), with meetings per 100 touches and the win rate.
CREATE VIEW IF NOT EXISTS {db}.motion_week_variation AS
WITH facts AS
(
    SELECT
        tenant, toMonday(occurred_at) AS week, motion, product_line, team_id, rep_id, account_id,
        toUInt32(is_touch) AS touches,
        toUInt32(is_touch AND channel = 'call') AS call_attempts,
        toUInt32(is_touch AND channel = 'call' AND outcome = 'connected') AS connected_calls,
        toUInt32(is_touch AND channel = 'email') AS emails_sent,
        toUInt32(is_touch AND channel = 'meeting') AS meetings_held,
        toUInt32(type = 'email' AND email_action = 'replied') AS email_replies,
        toUInt32((type = 'email' AND email_action = 'replied')
                 OR (type = 'call' AND direction = 'inbound')) AS replies,
        toUInt32(0) AS opened, toUInt32(0) AS won, toUInt32(0) AS lost
    FROM {db}.activities
    WHERE type IN ('call', 'email', 'meeting')
    UNION ALL
    SELECT tenant, toMonday(opened_at), motion, product_line, team_id, rep_id, account_id,
           0, 0, 0, 0, 0, 0, 0, 1, 0, 0
    FROM {db}.opportunity_motion
    UNION ALL
    SELECT tenant, toMonday(closed_at), motion, product_line, team_id, rep_id, account_id,
           0, 0, 0, 0, 0, 0, 0, 0, toUInt32(is_won), toUInt32(is_lost)
    FROM {db}.opportunity_motion
    WHERE is_won OR is_lost
)
SELECT
    f.tenant AS tenant,
    toDateTime64(f.week, 3, 'UTC') AS week_start,
    if(f.motion = '', 'unspecified', f.motion) AS motion,
    if(f.product_line = '', 'unspecified', f.product_line) AS product_line,
    f.team_id AS team_id,
    f.rep_id AS rep_id,
    if(acc.segment = '', 'unknown', acc.segment) AS segment,
    sum(f.touches) AS touches,
    sum(f.call_attempts) AS call_attempts,
    sum(f.connected_calls) AS connected_calls,
    sum(f.emails_sent) AS emails_sent,
    sum(f.meetings_held) AS meetings_held,
    sum(f.replies) AS replies,
    sum(f.email_replies) AS email_replies,
    sum(f.opened) AS opportunities_opened,
    sum(f.won) AS opportunities_won,
    sum(f.lost) AS opportunities_lost,
    if(touches = 0, NULL, round(100 * meetings_held / touches, 1)) AS meetings_per_100_touches,
    if(opportunities_won + opportunities_lost = 0, NULL,
       round(opportunities_won / (opportunities_won + opportunities_lost), 3)) AS win_rate
FROM facts AS f
LEFT JOIN (SELECT tenant, account_id, segment FROM {db}.accounts FINAL) AS acc
    ON f.tenant = acc.tenant AND f.account_id = acc.account_id
GROUP BY tenant, week_start, motion, product_line, team_id, rep_id, segment;

-- Stage dwell by motion and product line: finished stage visits per ISO week of leaving the
-- stage, per team, rep, segment and stage.
CREATE VIEW IF NOT EXISTS {db}.motion_stage_dwell AS
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
FROM (SELECT * FROM {db}.stage_visits FINAL WHERE exited_at IS NOT NULL) AS v
LEFT JOIN {db}.opportunity_motion AS o
    ON v.tenant = o.tenant AND v.opportunity_id = o.opportunity_id
LEFT JOIN (SELECT tenant, account_id, segment FROM {db}.accounts FINAL) AS acc
    ON v.tenant = acc.tenant AND v.account_id = acc.account_id
GROUP BY tenant, week_start, motion, product_line, team_id, rep_id, segment, stage
SETTINGS join_use_nulls = 1;
