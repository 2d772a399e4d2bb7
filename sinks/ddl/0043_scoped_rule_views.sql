-- The coaching and rep dashboards show one team or one rep, but the rule views they read judged
-- every deal and account of the tenant and the panel kept its team's or rep's rows afterwards:
-- over the benchmark's 200k accounts and 50k deals (50 teams, 2,000 reps) "Accounts going quiet"
-- and "Open deals by stage vs stage SLA" cost a manager's dashboard what the whole org does.
--
-- `accounts_vs_touch_limit_in_scope(tenant, team, now)` and `open_deal_dwell_in_scope(tenant,
-- team, rep, now)` are the 0035 and 0036 views with the scope applied where the rows are read;
-- `team = ''` and `rep = ''` mean all. Their rows are exactly the unscoped view's rows of that
-- team or rep (tests/dashboards/test_rule_view_rewrites.py compares them with the 0013 text,
-- filtered). An account's team is its book team, else the team of its last event, so the
-- scoped `seen` keeps the accounts the book puts in the team and every account the book gives
-- no team (their last event decides); the book keeps its rows of the team and of no team.
-- The unscoped views read the scoped ones with '' (the rule, written once), so the Coach pass
-- and the alerts read what they read before. The stuck-deal rule is `past_sla`, a column of
-- `open_deal_dwell_in_scope` (a panel counting a team's stuck deals per stage reads the deals
-- once, not again through the rule view); `rule_stuck_deals_in_scope` keeps its deals and
-- `rule_stuck_deals` reads that unscoped.
--
-- cadence_progress (0042): with a rep, its exits lookup took the rep's prospects from
-- `per_prospect`, which the engine computes again wherever it is named (the rep panel grouped
-- the rep's 90 days of cadence touches twice). It now takes them from `cadence_starts`: the
-- rep's prospects with a cadence touch within the 90 days, a superset of `per_prospect`'s
-- (exits only join to those), so the same rows.

CREATE OR REPLACE VIEW {db}.accounts_vs_touch_limit_in_scope AS
WITH seen AS
(
    SELECT * FROM
    (
        SELECT tenant, account_id, last_touch_at, last_channel, touches, first_seen_at,
               last_rep_id, team_id
        FROM
        (
            SELECT tenant, account_id, max(last_touch_at) AS last_touch_at,
                   argMaxIfMerge(last_channel) AS last_channel, sum(touches) AS touches,
                   min(first_seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at,
                   argMaxMerge(last_rep_id) AS last_rep_id, argMaxMerge(last_team_id) AS team_id
            FROM {db}.account_activity
            WHERE ({tenant:String} = '' OR tenant = {tenant:String})
            GROUP BY tenant, account_id
        )
        WHERE last_seen_at <= {now:DateTime64(3, 'UTC')}
        UNION ALL
        SELECT tenant, account_id, maxIf(occurred_at, is_touch = 1) AS last_touch_at,
               argMaxIf(toString(channel), occurred_at, is_touch = 1) AS last_channel,
               countIf(is_touch = 1) AS touches, min(occurred_at) AS first_seen_at,
               argMax(rep_id, occurred_at) AS last_rep_id,
               argMax(toString(team_id), occurred_at) AS team_id
        FROM {db}.activities
        WHERE (SELECT count() FROM {db}.account_activity
               WHERE ({tenant:String} = '' OR tenant = {tenant:String})
                 AND last_seen_at > {now:DateTime64(3, 'UTC')}) > 0
          AND ({tenant:String} = '' OR tenant = {tenant:String}) AND account_id != ''
          AND occurred_at <= {now:DateTime64(3, 'UTC')}
          AND (tenant, account_id) IN (
              SELECT tenant, account_id FROM {db}.account_activity
              WHERE ({tenant:String} = '' OR tenant = {tenant:String})
                AND last_seen_at > {now:DateTime64(3, 'UTC')})
        GROUP BY tenant, account_id
    )
    WHERE {team:String} = ''
       OR account_id IN (SELECT account_id FROM {db}.accounts FINAL
                         WHERE ({tenant:String} = '' OR tenant = {tenant:String})
                           AND team_id = {team:String})
       OR account_id NOT IN (SELECT account_id FROM {db}.accounts FINAL
                             WHERE tenant = {tenant:String} AND team_id != '')
          AND ({tenant:String} != ''
               OR (tenant, account_id) NOT IN (SELECT tenant, account_id FROM {db}.accounts FINAL
                                               WHERE team_id != ''))
),
book AS
(
    SELECT if(s.account_id = '', a.tenant, s.tenant) AS tenant,
           if(s.account_id = '', a.account_id, s.account_id) AS account_id,
           a.name AS name, a.owner_rep_id AS owner_rep_id, a.team_id AS book_team_id,
           a.tier AS book_tier, s.account_id AS seen_account_id, s.last_touch_at AS last_touch_at,
           s.last_channel AS last_channel, s.touches AS touches,
           s.first_seen_at AS first_seen_at, s.last_rep_id AS last_rep_id,
           s.team_id AS seen_team_id
    FROM seen AS s
    FULL OUTER JOIN (SELECT * FROM {db}.accounts FINAL
                     WHERE ({tenant:String} = '' OR tenant = {tenant:String})
                       AND ({team:String} = '' OR team_id IN ({team:String}, ''))) AS a
        ON s.tenant = a.tenant AND s.account_id = a.account_id
)
SELECT
    b.tenant AS tenant, b.account_id AS account_id,
    if(b.name = '', b.account_id, b.name) AS account_name,
    if(b.owner_rep_id = '', b.last_rep_id, b.owner_rep_id) AS rep_id,
    if(b.book_team_id = '', b.seen_team_id, b.book_team_id) AS team_id,
    if(b.book_tier = '', p.default_tier, b.book_tier) AS tier,
    p.plan_version AS plan_version,
    if(b.touches > 0, b.last_touch_at, NULL) AS last_touch_at,
    b.last_channel AS last_channel, b.touches AS touches,
    if(b.seen_account_id = '', NULL,
       dateDiff('second', if(b.touches > 0, b.last_touch_at, b.first_seen_at),
                {now:DateTime64(3, 'UTC')})) AS untouched_s,
    t.untouched_after_s AS threshold_s
FROM book AS b
INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
    ON b.tenant = p.tenant
INNER JOIN (SELECT tenant, plan_version, tier, untouched_after_s FROM {db}.plan_tiers FINAL
            WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS t
    ON p.tenant = t.tenant AND p.plan_version = t.plan_version AND tier = t.tier
WHERE {team:String} = '' OR team_id = {team:String};

CREATE OR REPLACE VIEW {db}.accounts_vs_touch_limit AS
SELECT * FROM {db}.accounts_vs_touch_limit_in_scope(
    tenant = {tenant:String}, team = '', now = {now:DateTime64(3, 'UTC')});

CREATE OR REPLACE VIEW {db}.open_deal_dwell_in_scope AS
SELECT d.tenant AS tenant, d.opportunity_id AS opportunity_id, d.account_id AS account_id,
       d.rep_id AS rep_id, d.team_id AS team_id, d.stage AS stage, d.entered_at AS entered_at,
       d.segment AS segment, d.plan_version AS plan_version, d.dwell_s AS dwell_s,
       s.sla_s AS sla_s, d.inactive_after_s AS inactive_after_s,
       -- the stuck-deal rule: in the current stage past that stage's SLA for the segment
       sla_s > 0 AND dwell_s > sla_s AS past_sla
FROM
(
    SELECT st.tenant AS tenant, st.opportunity_id AS opportunity_id,
           st.account_id AS account_id, st.rep_id AS rep_id, st.team_id AS team_id,
           st.current_stage AS stage, st.stage_entered_at AS entered_at,
           if(a.segment = '', p.default_segment, a.segment) AS segment,
           p.plan_version AS plan_version, p.deal_inactive_after_s AS inactive_after_s,
           dateDiff('second', st.stage_entered_at, {now:DateTime64(3, 'UTC')}) AS dwell_s
    FROM (SELECT * FROM {db}.opportunity_state FINAL
          WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND is_closed = 0
            AND ({team:String} = '' OR team_id = {team:String})
            AND ({rep:String} = '' OR rep_id = {rep:String})) AS st
    INNER JOIN {db}.plan_at(tenant = {tenant:String}, now = {now:DateTime64(3, 'UTC')}) AS p
        ON st.tenant = p.tenant
    LEFT JOIN (SELECT tenant, account_id, segment FROM {db}.accounts FINAL
               WHERE ({tenant:String} = '' OR tenant = {tenant:String})
                 AND (tenant, account_id) IN (
                     SELECT tenant, account_id FROM {db}.opportunity_state
                     WHERE ({tenant:String} = '' OR tenant = {tenant:String})
                       AND ({team:String} = '' OR team_id = {team:String})
                       AND ({rep:String} = '' OR rep_id = {rep:String}))) AS a
        ON st.tenant = a.tenant AND st.account_id = a.account_id
    WHERE NOT has(p.closed_stages, st.current_stage)
) AS d
LEFT JOIN (SELECT tenant, plan_version, segment, stage, sla_s FROM {db}.plan_stage_slas FINAL
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})) AS s
    ON d.tenant = s.tenant AND d.plan_version = s.plan_version AND d.segment = s.segment
       AND d.stage = s.stage;

CREATE OR REPLACE VIEW {db}.open_deal_dwell AS
SELECT tenant, opportunity_id, account_id, rep_id, team_id, stage, entered_at, segment,
       plan_version, dwell_s, sla_s, inactive_after_s
FROM {db}.open_deal_dwell_in_scope(
    tenant = {tenant:String}, team = '', rep = '', now = {now:DateTime64(3, 'UTC')});

-- Stuck deal: dwell in the current stage past that stage's SLA for the deal's segment.
CREATE OR REPLACE VIEW {db}.rule_stuck_deals_in_scope AS
SELECT tenant, opportunity_id, account_id, rep_id, team_id, stage, entered_at, segment,
       plan_version, dwell_s, sla_s
FROM {db}.open_deal_dwell_in_scope(tenant = {tenant:String}, team = {team:String},
                                   rep = {rep:String}, now = {now:DateTime64(3, 'UTC')})
WHERE past_sla;

CREATE OR REPLACE VIEW {db}.rule_stuck_deals AS
SELECT * FROM {db}.rule_stuck_deals_in_scope(
    tenant = {tenant:String}, team = '', rep = '', now = {now:DateTime64(3, 'UTC')});

-- 0042's cadence_progress, its exits looked up by the rep's prospects in cadence_starts.
CREATE OR REPLACE VIEW {db}.cadence_progress AS
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
      AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
      AND (tenant, cadence_id, prospect_id) NOT IN
          (SELECT tenant, cadence_id, prospect_id FROM {db}.cadence_starts
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})
             AND ({rep:String} = '' OR rep_id = {rep:String})
           GROUP BY tenant, cadence_id, prospect_id
           HAVING min(started_at) <= {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
              AND max(last_touch_at) > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY)
    GROUP BY tenant, cadence_id, prospect_id
),
exits AS
(
    SELECT tenant, prospect_id, groupArray((occurred_at, reason)) AS events
    FROM {db}.prospect_exits
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
      AND ({rep:String} = '' OR prospect_id IN (
          SELECT prospect_id FROM {db}.cadence_starts
          WHERE ({tenant:String} = '' OR tenant = {tenant:String}) AND rep_id = {rep:String}
            AND last_touch_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY))
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
