-- Coaching rules, each written once (touchline/plan/README.md, "Coach"). Every rule is a
-- parameterized view that judges the moment `now` against the plan in force at `now`, with
-- every threshold read from the plan tables, for one tenant (or every tenant when `tenant` is
-- ''). The signal evaluator (touchline/plan/signals.py), the Grafana alert rules
-- (dashboards/queries.py), the panels and the reports all select from these views:
--
--   SELECT * FROM touchline.rule_stuck_deals(tenant = 'acme', now = now64(3, 'UTC'))
--
-- Parameterized views run on the embedded engine (chdb 26.9) and on ClickHouse servers (23.1
-- and later); arguments may be constant expressions (now64(3), fromUnixTimestamp64Milli(..)).
-- Base views (open_deals_vs_sla, accounts_vs_touch_limit, cadence_progress,
-- rep_activity_vs_plan) hold every judged row for the panels; the rule_* views keep the rows
-- past the plan's threshold.

-- Two coaching thresholds the plan gained with these rules. 0 (a plan loaded before them) means
-- the rule is off for that plan until it is loaded again; the plan model holds the defaults.
ALTER TABLE {db}.plan_versions ADD COLUMN IF NOT EXISTS idle_rep_after_s UInt64 DEFAULT 0;
ALTER TABLE {db}.plan_versions ADD COLUMN IF NOT EXISTS deal_inactive_after_s UInt64 DEFAULT 0;

-- The plan version in force at `now`, per tenant, with its plan-wide settings.
CREATE VIEW IF NOT EXISTS {db}.plan_at AS
SELECT
    tenant,
    argMax(plan_version, effective_from) AS plan_version,
    max(effective_from) AS in_force_from,
    argMax(closed_stages, effective_from) AS closed_stages,
    argMax(default_segment, effective_from) AS default_segment,
    argMax(default_tier, effective_from) AS default_tier,
    argMax(default_role, effective_from) AS default_role,
    argMax(cadence_behind_steps, effective_from) AS cadence_behind_steps,
    argMax(cadence_behind_min_prospects, effective_from) AS cadence_behind_min_prospects,
    argMax(cadence_grace_s, effective_from) AS cadence_grace_s,
    argMax(activity_mix_min_ratio, effective_from) AS activity_mix_min_ratio,
    argMax(activity_mix_min_elapsed_s, effective_from) AS activity_mix_min_elapsed_s,
    argMax(idle_rep_after_s, effective_from) AS idle_rep_after_s,
    argMax(deal_inactive_after_s, effective_from) AS deal_inactive_after_s
FROM {db}.plan_versions FINAL
WHERE ({tenant:String} = '' OR tenant = {tenant:String})
  AND effective_from <= {now:DateTime64(3, 'UTC')}
GROUP BY tenant;

-- Each rep's role and team at `now`: the org period in force (rep_periods, 0011), else the
-- `reps` row; the plan's default role where neither names one.
CREATE VIEW IF NOT EXISTS {db}.rep_at AS
SELECT tenant, rep_id, argMax(role, in_org) AS role, argMax(team_id, in_org) AS team_id,
       argMax(name, in_org) AS name
FROM
(
    SELECT tenant, rep_id, role, team_id, name, 1 AS in_org FROM {db}.rep_periods
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
      AND active_from <= {now:DateTime64(3, 'UTC')} AND active_to > {now:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT tenant, rep_id, role, team_id, name, 0 AS in_org FROM {db}.reps FINAL
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
)
GROUP BY tenant, rep_id;

-- The rule views set no query settings (a read-only user may not change them): a LEFT JOIN
-- that finds nothing gives the column's default ('' or 0 or 1970-01-01), never NULL.

-- Every open deal with its dwell in the current stage, the stage SLA of its segment (the
-- account's, else the plan's default segment; 0 when the plan has none), and the time since anything happened on it (a
-- stage change, a touch on its account or an event naming it).
CREATE VIEW IF NOT EXISTS {db}.open_deals_vs_sla AS
WITH deals AS
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
),
last_activity AS
(
    SELECT tenant, opportunity_id, max(at) AS last_activity_at
    FROM
    (
        SELECT d.tenant AS tenant, d.opportunity_id AS opportunity_id, x.occurred_at AS at
        FROM deals AS d
        INNER JOIN (SELECT tenant, account_id, occurred_at FROM {db}.activities
                    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND is_touch = 1
                      AND account_id != '' AND occurred_at <= {now:DateTime64(3, 'UTC')}) AS x
            ON d.tenant = x.tenant AND d.account_id = x.account_id
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
    s.sla_s AS sla_s,
    greatest(d.entered_at, l.last_activity_at) AS last_activity_at,
    dateDiff('second', last_activity_at, {now:DateTime64(3, 'UTC')}) AS inactive_s,
    d.inactive_after_s AS inactive_after_s
FROM deals AS d
LEFT JOIN (SELECT tenant, plan_version, segment, stage, sla_s FROM {db}.plan_stage_slas FINAL
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS s
    ON d.tenant = s.tenant AND d.plan_version = s.plan_version AND d.segment = s.segment
       AND d.stage = s.stage
LEFT JOIN last_activity AS l ON d.tenant = l.tenant AND d.opportunity_id = l.opportunity_id;

-- Stuck deal: dwell in the current stage past that stage's SLA for the deal's segment.
CREATE VIEW IF NOT EXISTS {db}.rule_stuck_deals AS
SELECT tenant, opportunity_id, account_id, rep_id, team_id, stage, entered_at, segment,
       plan_version, dwell_s, sla_s
FROM {db}.open_deals_vs_sla(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')})
WHERE sla_s > 0 AND dwell_s > sla_s;

-- Deal inactivity: an open deal on which nothing happened for longer than the plan's
-- `coaching.deal_inactive_after`.
CREATE VIEW IF NOT EXISTS {db}.rule_inactive_deals AS
SELECT tenant, opportunity_id, account_id, rep_id, team_id, stage, segment, plan_version,
       last_activity_at, inactive_s, inactive_after_s
FROM {db}.open_deals_vs_sla(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')})
WHERE inactive_after_s > 0 AND inactive_s > inactive_after_s;

-- Every account of the book (the `accounts` table plus every account seen in activities) with
-- its tier (the account's, else the plan's default tier), its last touch and its tier's limit.
-- An account with no activity at all has untouched_s NULL.
CREATE VIEW IF NOT EXISTS {db}.accounts_vs_touch_limit AS
WITH book AS
(
    SELECT tenant, account_id FROM {db}.accounts FINAL
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
    UNION DISTINCT
    SELECT DISTINCT tenant, account_id FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND account_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
),
seen AS
(
    SELECT tenant, account_id, maxIf(occurred_at, is_touch = 1) AS last_touch_at,
           argMaxIf(channel, occurred_at, is_touch = 1) AS last_channel,
           countIf(is_touch = 1) AS touches, min(occurred_at) AS first_seen_at,
           argMax(rep_id, occurred_at) AS last_rep_id, argMax(team_id, occurred_at) AS team_id
    FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND account_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
    GROUP BY tenant, account_id
)
SELECT
    b.tenant AS tenant, b.account_id AS account_id,
    if(a.name = '', b.account_id, a.name) AS account_name,
    if(a.owner_rep_id = '', s.last_rep_id, a.owner_rep_id) AS rep_id,
    if(a.team_id = '', s.team_id, a.team_id) AS team_id,
    if(a.tier = '', p.default_tier, a.tier) AS tier,
    p.plan_version AS plan_version,
    if(s.touches > 0, s.last_touch_at, NULL) AS last_touch_at,
    s.last_channel AS last_channel, s.touches AS touches,
    if(s.account_id = '', NULL,
       dateDiff('second', if(s.touches > 0, s.last_touch_at, s.first_seen_at),
                {now:DateTime64(3, 'UTC')})) AS untouched_s,
    t.untouched_after_s AS threshold_s
FROM book AS b
INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
    ON b.tenant = p.tenant
LEFT JOIN seen AS s ON b.tenant = s.tenant AND b.account_id = s.account_id
LEFT JOIN (SELECT * FROM {db}.accounts FINAL
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS a
    ON b.tenant = a.tenant AND b.account_id = a.account_id
INNER JOIN (SELECT tenant, plan_version, tier, untouched_after_s FROM {db}.plan_tiers FINAL
            WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS t
    ON p.tenant = t.tenant AND p.plan_version = t.plan_version AND tier = t.tier;

-- Untouched account: no touch for longer than its tier's limit (or no activity at all).
CREATE VIEW IF NOT EXISTS {db}.rule_untouched_accounts AS
SELECT tenant, account_id, account_name, rep_id, team_id, tier, plan_version, last_touch_at,
       last_channel, touches, untouched_s, threshold_s
FROM {db}.accounts_vs_touch_limit(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')})
WHERE untouched_s IS NULL OR untouched_s > threshold_s;

-- Speed-to-lead: a lead (of the last 30 days) with no touch since it arrived, past the
-- speed-to-lead SLA of its account's tier.
CREATE VIEW IF NOT EXISTS {db}.rule_leads_over_sla AS
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

-- Cadence progress per prospect (cadences started in the last 90 days; `rep` '' for every
-- rep), judged by the plan in force when the prospect's cadence started (the grace after a due
-- step: the plan in force now): the step due now, the steps done, how many due steps lack a
-- touch, the next step's channel and when it is due. A cadence ends (as
-- sequencing tools unenroll) on the first reply (email replied or inbound call), meeting
-- booked or held, bounce or unsubscribe after it started, or a closing disposition (qualify,
-- disqualify, archive, postpone): `exit_reason` and `exited_at` say which and when, and
-- `exit_step` is the last step done before it (the step the reply or meeting is credited to).
CREATE VIEW IF NOT EXISTS {db}.cadence_progress AS
WITH per_prospect AS
(
    SELECT tenant, cadence_id, prospect_id,
           argMin(rep_id, occurred_at) AS cadence_rep_id,
           argMin(team_id, occurred_at) AS team_id,
           argMin(account_id, occurred_at) AS account_id,
           min(occurred_at) AS started_at, max(occurred_at) AS last_touch_at,
           groupUniqArray(cadence_step) AS done_steps,
           groupArray((cadence_step, occurred_at)) AS step_times
    FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
      AND ({rep:String} = '' OR rep_id = {rep:String}) AND is_touch = 1
      AND cadence_id != '' AND prospect_id != '' AND cadence_step > 0
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
    GROUP BY tenant, cadence_id, prospect_id
    HAVING started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
),
exits AS
(
    SELECT tenant, prospect_id,
           groupArray((occurred_at, multiIf(
               type = 'email' AND email_action = 'replied', 'replied',
               type = 'call' AND direction = 'inbound', 'replied',
               type = 'meeting' AND meeting_status IN ('scheduled', 'held'), 'meeting',
               type = 'email' AND email_action = 'bounced', 'bounced',
               type = 'email' AND email_action = 'unsubscribed', 'unsubscribed',
               concat('disposition_', disposition)))) AS events
    FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND prospect_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND ((type = 'email' AND email_action IN ('replied', 'bounced', 'unsubscribed'))
           OR (type = 'call' AND direction = 'inbound')
           OR (type = 'meeting' AND meeting_status IN ('scheduled', 'held'))
           OR (type = 'disposition'
               AND disposition IN ('qualify', 'disqualify', 'archive', 'postpone')))
      AND prospect_id IN (SELECT prospect_id FROM per_prospect)
    GROUP BY tenant, prospect_id
),
cadences AS
(
    SELECT * FROM {db}.plan_cadences
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
),
judged AS
(
    SELECT
        p.tenant AS tenant, p.cadence_id AS cadence_id, p.prospect_id AS prospect_id,
        p.cadence_rep_id AS rep_id, p.team_id AS team_id, p.account_id AS account_id,
        p.started_at AS started_at, p.last_touch_at AS last_touch_at,
        length(p.step_times) AS touches, c.plan_version AS plan_version,
        length(c.steps) AS planned_steps,
        arrayCount(o -> o + v.cadence_grace_s
                        <= dateDiff('second', p.started_at, {now:DateTime64(3, 'UTC')}),
                   c.offsets) AS due_step,
        arrayCount(s -> has(p.done_steps, s) AND s <= due_step, c.steps) AS due_done,
        length(arrayFilter(s -> has(p.done_steps, s), c.steps)) AS steps_done,
        greatest(toInt64(due_step) - toInt64(due_done), 0) AS steps_behind,
        arrayFirstIndex(s -> NOT has(p.done_steps, s), c.steps) AS next_index,
        if(next_index = 0, '', c.channels[next_index]) AS next_channel,
        if(next_index = 0, NULL,
           p.started_at + toIntervalSecond(c.offsets[next_index])) AS next_due_at,
        arrayCount(s -> NOT has(p.done_steps, s) AND s < arrayMax(p.done_steps)
                        AND c.channels[s] = 'call', c.steps) AS skipped_calls,
        arraySort(arrayFilter(e -> e.1 >= p.started_at, x.events)) AS after_start,
        if(empty(after_start), '', after_start[1].2) AS exit_reason,
        if(empty(after_start), NULL, after_start[1].1) AS exited_at,
        if(empty(after_start), 0,
           arrayMax(arrayMap(st -> if(st.2 <= after_start[1].1, toUInt16(st.1), 0),
                             p.step_times))) AS exit_step
    FROM per_prospect AS p
    ASOF INNER JOIN cadences AS c
        ON p.tenant = c.tenant AND p.cadence_id = c.cadence_id
           AND p.started_at >= c.effective_from
    INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS v
        ON p.tenant = v.tenant
    LEFT JOIN exits AS x ON p.tenant = x.tenant AND p.prospect_id = x.prospect_id
)
SELECT tenant, cadence_id, prospect_id, rep_id, team_id, account_id, started_at,
       last_touch_at, touches, plan_version, planned_steps, due_step, steps_done, steps_behind,
       next_channel, next_due_at, skipped_calls, exit_reason, exited_at, exit_step,
       exit_reason = '' AND next_index != 0 AS active
FROM judged;

-- Cadence behind: per rep and cadence, at least `coaching.cadence_behind_min_prospects` active
-- prospects `coaching.cadence_behind_steps` or more due steps behind (plan in force now).
CREATE VIEW IF NOT EXISTS {db}.rule_cadences_behind AS
SELECT c.tenant AS tenant, c.rep_id AS rep_id, any(c.team_id) AS team_id,
       c.cadence_id AS cadence_id, any(p.plan_version) AS plan_version, count() AS active,
       countIf(c.steps_behind >= p.cadence_behind_steps) AS behind,
       maxIf(c.steps_behind, c.steps_behind >= p.cadence_behind_steps) AS worst,
       topKIf(1)(c.next_channel, c.steps_behind >= p.cadence_behind_steps)[1] AS next_channel,
       countIf(c.steps_behind >= p.cadence_behind_steps AND c.skipped_calls > 0)
           AS skipping_calls,
       any(p.cadence_behind_steps) AS threshold_steps,
       any(p.cadence_behind_min_prospects) AS min_prospects
FROM {db}.cadence_progress(tenant = {tenant:String}, rep = '',
                           now = {now:DateTime64(3, 'UTC')}) AS c
INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
    ON c.tenant = p.tenant
WHERE c.active
GROUP BY c.tenant, c.rep_id, c.cadence_id
HAVING behind >= any(p.cadence_behind_min_prospects);

-- High-impact activity vs plan per rep over the last 7 days (from the first plan's
-- effective_from when that is later): the target is each plan version's weekly target for the
-- rep's role at `now`, pro-rated over the part of the window it was in force (percent targets
-- are time-weighted averages). `pieces` lists (weekly target, seconds, plan version).
CREATE VIEW IF NOT EXISTS {db}.rep_activity_vs_plan AS
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
actuals AS
(
    SELECT a.tenant AS tenant, a.rep_id AS rep_id, any(a.team_id) AS event_team_id,
           countIf(a.type = 'call' AND a.direction = 'outbound') AS call_attempts,
           countIf(a.type = 'call' AND a.direction = 'outbound' AND a.outcome = 'connected')
               AS connected_calls,
           countIf(a.type = 'email' AND a.email_action = 'sent') AS emails_sent,
           countIf(a.type = 'meeting' AND a.meeting_status = 'held') AS meetings_held
    FROM {db}.activities AS a
    INNER JOIN windows AS w ON a.tenant = w.tenant
    WHERE ({tenant:String} = '' OR a.tenant = {tenant:String})
      AND a.occurred_at >= w.window_start AND a.occurred_at <= {now:DateTime64(3, 'UTC')}
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
           if(r.team_id = '', ac.event_team_id, r.team_id) AS team_id
    FROM actuals AS ac
    INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
        ON ac.tenant = p.tenant
    LEFT JOIN {db}.rep_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS r
        ON ac.tenant = r.tenant AND ac.rep_id = r.rep_id
),
planned AS
(
    SELECT rr.tenant AS tenant, rr.rep_id AS rep_id, t.activity AS activity,
           if(t.activity = 'leads_touched_within_sla',
              sum(t.weekly_target * pd.overlap_s) / sum(pd.overlap_s),
              sum(t.weekly_target * pd.overlap_s) / 604800) AS planned,
           arraySort(x -> x.3, groupArray((t.weekly_target, pd.overlap_s, pd.plan_version)))
               AS pieces
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
    ac.tenant AS tenant, ac.rep_id AS rep_id, rr.team_id AS team_id, rr.role AS role,
    pl.activity AS activity, p.plan_version AS plan_version, w.window_start AS window_start,
    dateDiff('second', w.window_start, {now:DateTime64(3, 'UTC')}) AS elapsed_s,
    ac.call_attempts AS call_attempts, ac.emails_sent AS emails_sent,
    -- a percent target without any lead in the window has nothing to judge: -1, left out
    toFloat64(multiIf(pl.activity = 'call_attempts', ac.call_attempts,
                      pl.activity = 'connected_calls', ac.connected_calls,
                      pl.activity = 'emails_sent', ac.emails_sent,
                      pl.activity = 'meetings_held', ac.meetings_held,
                      lt.leads > 0,
                      round(100 * lt.in_time / greatest(lt.leads, 1)),
                      -1)) AS actual,
    pl.planned AS planned, pl.pieces AS pieces,
    actual / pl.planned AS ratio,
    p.activity_mix_min_ratio AS min_ratio,
    p.activity_mix_min_elapsed_s AS min_elapsed_s
FROM actuals AS ac
INNER JOIN rep_roles AS rr ON ac.tenant = rr.tenant AND ac.rep_id = rr.rep_id
INNER JOIN planned AS pl ON ac.tenant = pl.tenant AND ac.rep_id = pl.rep_id
INNER JOIN windows AS w ON ac.tenant = w.tenant
INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
    ON ac.tenant = p.tenant
LEFT JOIN lead_times AS lt ON ac.tenant = lt.tenant AND ac.rep_id = lt.rep_id
WHERE actual >= 0
  AND if(pl.activity = 'leads_touched_within_sla', pl.planned > 0, pl.planned >= 1);

-- Activity vs plan: once `coaching.activity_mix_min_elapsed` of the window has passed, an
-- activity below `coaching.activity_mix_min_ratio` of its pro-rated target (basis 'count'),
-- or calls vs emails off the plan's mix by that ratio although both counts may be on plan
-- (basis 'share': 220 calls and 900 emails against 200 and 150 planned is 20% calls where the
-- plan asks 57%). A share row names the channel that trails and only appears when that
-- activity has no count row.
CREATE VIEW IF NOT EXISTS {db}.rule_activity_mix AS
SELECT tenant, rep_id, team_id, role, activity, plan_version, window_start, actual, planned,
       ratio, min_ratio, pieces, call_attempts, emails_sent, rep_ratios,
       if(ratio < min_ratio, 'count', 'share') AS basis,
       if(activity = 'call_attempts', call_share, 1 - call_share) AS actual_share,
       if(activity = 'call_attempts', plan_share, 1 - plan_share) AS planned_share
FROM
(
    SELECT *,
           sumIf(planned, activity = 'call_attempts') OVER rep AS planned_calls,
           sumIf(planned, activity = 'emails_sent') OVER rep AS planned_emails,
           planned_calls / (planned_calls + planned_emails) AS plan_share,
           call_attempts / greatest(call_attempts + emails_sent, 1) AS call_share,
           multiIf(planned_calls < 1 OR planned_emails < 1 OR call_attempts + emails_sent = 0,
                   '',
                   call_share / plan_share < min_ratio, 'call_attempts',
                   (1 - call_share) / (1 - plan_share) < min_ratio, 'emails_sent', '')
               AS trailing,
           groupArray((activity, ratio)) OVER rep AS rep_ratios
    FROM {db}.rep_activity_vs_plan(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')})
    WHERE elapsed_s >= min_elapsed_s
    WINDOW rep AS (PARTITION BY tenant, rep_id
                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
WHERE ratio < min_ratio OR activity = trailing;

-- Idle rep: a rep who touched someone in the last 90 days but not for longer than the plan's
-- `coaching.idle_rep_after` (a rep whose org period has ended is not idle).
CREATE VIEW IF NOT EXISTS {db}.rule_idle_reps AS
SELECT a.tenant AS tenant, a.rep_id AS rep_id,
       if(r.team_id = '', a.event_team_id, r.team_id) AS team_id,
       a.last_touch_at AS last_touch_at, a.last_channel AS last_channel,
       dateDiff('second', a.last_touch_at, {now:DateTime64(3, 'UTC')}) AS idle_s,
       p.idle_rep_after_s AS idle_after_s, p.plan_version AS plan_version
FROM
(
    SELECT tenant, rep_id, max(occurred_at) AS last_touch_at,
           argMax(channel, occurred_at) AS last_channel, argMax(team_id, occurred_at)
               AS event_team_id
    FROM {db}.activities
    WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND is_touch = 1 AND rep_id != ''
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
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
