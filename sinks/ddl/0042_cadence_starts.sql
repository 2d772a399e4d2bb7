-- cadence_progress (0013, 0033) judges the cadences started within 90 days of `now`, and
-- found them by grouping every cadence touch of the tenant's whole history per prospect, then
-- keeping the groups whose first touch was within the 90 days: a Coach pass (every 30 s) grew
-- with the years of history stored, not with the cadences running. `cadence_starts` keeps the
-- first and last cadence touch of each (tenant, cadence, prospect, rep), filled by the same
-- insert as `activities` (as the 0010, 0021 and 0033 rollups). The view now reads only the 90
-- days of touches, leaving out the few cadences that started before the 90 days and were
-- touched within them (their first touch is older, so they were never judged). With a rep,
-- the first touch is the rep's own, as before.
--
-- Its exits lookup (`prospect_id IN (SELECT prospect_id FROM per_prospect)`) applies only with
-- a rep now. The engine computes a WITH clause wherever it is named, so without a rep (the
-- Coach pass's rule_cadences_behind) it grouped every cadence touch a second time, to prune
-- nothing; with a rep (the rep's panel) it still cuts the read of prospect_exits to the rep's
-- prospects. Same rows and columns (tests/dashboards/test_rule_view_rewrites.py keeps 0013's
-- text).
--
-- Backfill, writers and retries: as 0010 (filled while empty, before its view exists; run it
-- with the writers stopped; deduplicated retried blocks never reach it twice, and min and max
-- would not change if they did).

CREATE TABLE IF NOT EXISTS {db}.cadence_starts
(
    tenant        LowCardinality(String),
    cadence_id    LowCardinality(String),
    prospect_id   String,
    rep_id        String,
    started_at    SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_touch_at SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, rep_id, cadence_id, prospect_id)  -- a rep's panel reads its rows only
SETTINGS non_replicated_deduplication_window = 10000,
         min_bytes_for_full_part_storage = 10485760;

INSERT INTO {db}.cadence_starts
SELECT tenant, cadence_id, prospect_id, rep_id, min(occurred_at), max(occurred_at)
FROM {db}.activities
WHERE is_touch = 1 AND cadence_id != '' AND prospect_id != '' AND cadence_step > 0
  AND (SELECT count() FROM {db}.cadence_starts) = 0
GROUP BY tenant, cadence_id, prospect_id, rep_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.cadence_starts_mv TO {db}.cadence_starts AS
SELECT tenant, cadence_id, prospect_id, rep_id, min(occurred_at) AS started_at,
       max(occurred_at) AS last_touch_at
FROM {db}.activities
WHERE is_touch = 1 AND cadence_id != '' AND prospect_id != '' AND cadence_step > 0
GROUP BY tenant, cadence_id, prospect_id, rep_id;

-- 0033's view, its cadences read from the 90 days, its exits looked up by prospect only with
-- a rep (same rows, same columns).
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
