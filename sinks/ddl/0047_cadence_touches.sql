-- cadence_progress (0042, 0043) grouped every cadence touch of the 90 days per (cadence,
-- prospect) for each evaluation, then left out the cadences started before them: a Coach pass
-- (every 30 s) cost as many touches as the 90 days held, and grouped all of `cadence_starts`
-- besides. Over 100M activities of a 2,000-rep org (the benchmark's `org` shape: 17M cadence
-- touches in 90 days, 1M cadences) `rule_cadences_behind` took 2.5-3.0 s and ~5 s of CPU of a
-- ~5 s pass. `cadence_touches` keeps, per (tenant, cadence, prospect, rep), what the view groups
-- the touches into: first and last touch, the team and account of the first, the steps done and
-- when. It is filled by the same insert as `activities`, partitioned by the month of the first
-- touch, and replaces `cadence_starts` (0042), which held the first two only.
--
-- The view merges the rows first touched within the 90 days (the partitions before are not
-- read), leaving out cadences with a row first touched before them. A cadence with a row
-- holding touches both up to and after `now` (a pass or panel judging a past moment, or events
-- stamped ahead of the clock) is read from its reps' raw rows up to `now`, as before; that read
-- runs only when there is one. Over the `org` shape: 0.16-0.18 s against 2.5-3.0 s; over the
-- `dense` shape (1.3 touches per cadence, all within 30 days) 0.59-0.70 s against 0.44-0.51 s
-- (docs/performance.md, the 2026-12-06 06:14 section). Same rows and columns
-- (tests/dashboards/test_rule_view_rewrites.py keeps 0013's text as the reference), except
-- where two first touches of a cadence share one moment: the raw rows gave the rep, team or
-- account of either, the rollup gives the least.
--
-- Backfill, writers and retries: as 0010 (filled while empty, before its view exists; run it
-- with the writers stopped; deduplicated retried blocks never reach it twice).

CREATE TABLE IF NOT EXISTS {db}.cadence_touches
(
    tenant        LowCardinality(String),
    rep_id        String,
    cadence_id    LowCardinality(String),
    prospect_id   String,
    started_at    SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_touch_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    team_id       AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), String)),
    account_id    AggregateFunction(argMin, String, Tuple(DateTime64(3, 'UTC'), String)),
    done_steps    AggregateFunction(groupUniqArray, UInt8),
    step_times    AggregateFunction(groupArray, Tuple(UInt8, DateTime64(3, 'UTC')))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(started_at)  -- a cadence's rows merge within the month of their first touch
ORDER BY (tenant, cadence_id, prospect_id, rep_id)
SETTINGS non_replicated_deduplication_window = 10000,
         min_bytes_for_full_part_storage = 10485760;

INSERT INTO {db}.cadence_touches
SELECT tenant, rep_id, cadence_id, prospect_id, min(occurred_at), max(occurred_at),
       argMinState(team_id, (occurred_at, team_id)),
       argMinState(account_id, (occurred_at, account_id)),
       groupUniqArrayState(cadence_step), groupArrayState((cadence_step, occurred_at))
FROM {db}.activities
WHERE is_touch = 1 AND cadence_id != '' AND prospect_id != '' AND cadence_step > 0
  AND (SELECT count() FROM {db}.cadence_touches) = 0
GROUP BY tenant, rep_id, cadence_id, prospect_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.cadence_touches_mv TO {db}.cadence_touches AS
SELECT tenant, rep_id, cadence_id, prospect_id, min(occurred_at) AS started_at,
       max(occurred_at) AS last_touch_at,
       argMinState(team_id, (occurred_at, team_id)) AS team_id,
       argMinState(account_id, (occurred_at, account_id)) AS account_id,
       groupUniqArrayState(cadence_step) AS done_steps,
       groupArrayState((cadence_step, occurred_at)) AS step_times
FROM {db}.activities
WHERE is_touch = 1 AND cadence_id != '' AND prospect_id != '' AND cadence_step > 0
GROUP BY tenant, rep_id, cadence_id, prospect_id;

-- 0043's view, its cadences read from the rollup (the raw rows only for a cadence touched after
-- `now`).
CREATE OR REPLACE VIEW {db}.cadence_progress AS
WITH
-- cadences (of the rep, if one is given) with a row first touched within the 90 days whose
-- first touch ever was before them: judged by no one, as they started before the 90 days
started_earlier AS
(
    SELECT tenant, cadence_id, prospect_id
    FROM {db}.cadence_touches
    WHERE (SELECT count() FROM {db}.cadence_touches
           WHERE started_at <= {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY) > 0
      AND ({tenant:String} = '' OR tenant = {tenant:String})
      AND ({rep:String} = '' OR rep_id = {rep:String})
      AND started_at <= {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
      AND (tenant, cadence_id, prospect_id) IN
          (SELECT tenant, cadence_id, prospect_id FROM {db}.cadence_touches
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})
             AND ({rep:String} = '' OR rep_id = {rep:String})
             AND started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY)
),
-- the cadences whose first touch is within the 90 days: all their rows are
started AS
(
    SELECT tenant, cadence_id, prospect_id,
           argMin(rep_id, (started_at, rep_id)) AS first_rep_id,
           argMinMerge(team_id) AS first_team_id, argMinMerge(account_id) AS first_account_id,
           min(started_at) AS first_at, max(last_touch_at) AS last_at,
           groupUniqArrayMerge(done_steps) AS steps, groupArrayMerge(step_times) AS times
    FROM {db}.cadence_touches
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
      AND ({rep:String} = '' OR rep_id = {rep:String})
      AND started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
      AND started_at <= {now:DateTime64(3, 'UTC')}
      AND (tenant, cadence_id, prospect_id) NOT IN (SELECT * FROM started_earlier)
    GROUP BY tenant, cadence_id, prospect_id
),
-- those of them with a row holding touches both up to and after `now`
touched_later AS
(
    SELECT tenant, cadence_id, prospect_id
    FROM {db}.cadence_touches
    WHERE (SELECT count() FROM {db}.cadence_touches
           WHERE started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
             AND started_at <= {now:DateTime64(3, 'UTC')}
             AND last_touch_at > {now:DateTime64(3, 'UTC')}) > 0
      AND ({tenant:String} = '' OR tenant = {tenant:String})
      AND ({rep:String} = '' OR rep_id = {rep:String})
      AND started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
      AND (tenant, cadence_id, prospect_id) IN
          (SELECT tenant, cadence_id, prospect_id FROM {db}.cadence_touches
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})
             AND ({rep:String} = '' OR rep_id = {rep:String})
             AND started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
             AND started_at <= {now:DateTime64(3, 'UTC')}
             AND last_touch_at > {now:DateTime64(3, 'UTC')})
      AND (tenant, cadence_id, prospect_id) NOT IN (SELECT * FROM started_earlier)
    GROUP BY tenant, cadence_id, prospect_id
    HAVING min(started_at) <= {now:DateTime64(3, 'UTC')}
),
-- the rollup's cadences touched up to `now` only, and the others from their raw rows up to `now`
per_prospect AS
(
    SELECT tenant, cadence_id, prospect_id, first_rep_id AS cadence_rep_id,
           first_team_id AS team_id, first_account_id AS account_id, first_at AS started_at,
           last_at AS last_touch_at, steps AS done_steps, times AS step_times
    FROM started
    WHERE last_at <= {now:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT tenant, cadence_id, prospect_id,
           argMin(rep_id, (occurred_at, rep_id)) AS cadence_rep_id,
           argMin(team_id, (occurred_at, team_id)) AS team_id,
           argMin(account_id, (occurred_at, account_id)) AS account_id,
           min(occurred_at) AS started_at, max(occurred_at) AS last_touch_at,
           groupUniqArray(cadence_step) AS done_steps,
           groupArray((cadence_step, occurred_at)) AS step_times
    FROM {db}.activities
    WHERE (SELECT count() FROM {db}.cadence_touches
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})
             AND started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
             AND started_at <= {now:DateTime64(3, 'UTC')}
             AND last_touch_at > {now:DateTime64(3, 'UTC')}) > 0
      AND ({tenant:String} = '' OR tenant = {tenant:String})
      AND ({rep:String} = '' OR rep_id = {rep:String})
      AND is_touch = 1 AND cadence_id != '' AND prospect_id != '' AND cadence_step > 0
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
      AND (tenant, cadence_id, prospect_id) IN
          (SELECT tenant, cadence_id, prospect_id FROM touched_later)
    GROUP BY tenant, cadence_id, prospect_id
),
exits AS
(
    SELECT tenant, prospect_id, groupArray((occurred_at, reason)) AS events
    FROM {db}.prospect_exits
    WHERE ({tenant:String} = '' OR tenant = {tenant:String})
      AND occurred_at <= {now:DateTime64(3, 'UTC')}
      AND occurred_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
      AND prospect_id IN
          (SELECT prospect_id FROM {db}.cadence_touches
           WHERE ({tenant:String} = '' OR tenant = {tenant:String})
             AND ({rep:String} = '' OR rep_id = {rep:String})
             AND started_at > {now:DateTime64(3, 'UTC')} - INTERVAL 90 DAY
             AND started_at <= {now:DateTime64(3, 'UTC')})
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

DROP VIEW IF EXISTS {db}.cadence_starts_mv;

DROP TABLE IF EXISTS {db}.cadence_starts
