-- cadence_progress (0033) looked its exits up only for the prospects of `per_prospect`, with
-- `prospect_id IN (SELECT prospect_id FROM per_prospect)`. The engine computes a WITH clause
-- wherever it is named, so without a rep (the Coach pass's rule_cadences_behind: every rep of
-- every tenant) that grouped every cadence touch of the 90 days twice, to prune nothing. Now
-- the lookup applies only with a rep (the rep's panel, where it cuts the read of
-- prospect_exits to the rep's prospects); without one the view reads the 90 days of exits.
-- Over 30M activities: rule_cadences_behind 13.8 s of engine CPU -> 8.5 s; the view for one
-- rep 0.22 s -> 0.15 s.
-- Same rows and columns (tests/dashboards/test_rule_view_rewrites.py keeps 0013's text).
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
    GROUP BY tenant, cadence_id, prospect_id
    HAVING started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
),
exits AS
(
    SELECT tenant, prospect_id, groupArray((occurred_at, reason)) AS events
    FROM {db}.prospect_exits
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
      AND ({rep:String} = '' OR prospect_id IN (SELECT prospect_id FROM per_prospect))
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
