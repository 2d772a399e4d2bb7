-- The events that end a prospect's cadence (a reply, an inbound call, a meeting booked or held,
-- a bounce, an unsubscribe, a closing disposition), one row each, sorted by prospect:
-- cadence_progress (0013) found them by reading every activity of the tenant's whole history
-- for each request ("My prospects due a touch": 1.7 s of store CPU over 100M rows). A
-- materialized view fed by the same insert as `activities` keeps the table (as the 0010 and
-- 0021 rollups), and the view below reads it, returning exactly what the 0013 view returned
-- (tests/dashboards/test_rule_view_rewrites.py keeps the old text as the reference).
--
-- Only exits of the last 90 days are read: an exit counts from its cadence's start, and a
-- cadence counts only if it started within 90 days of `now`, so an older exit never mattered.
--
-- Backfill, writers and retries: as 0010 (filled while empty, before its view exists; run it
-- with the writers stopped; deduplicated retried blocks never reach it twice).

CREATE TABLE IF NOT EXISTS {db}.prospect_exits
(
    tenant      LowCardinality(String),
    prospect_id String,
    occurred_at DateTime64(3, 'UTC'),
    reason      LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, prospect_id, occurred_at)
SETTINGS non_replicated_deduplication_window = 10000,
         min_bytes_for_full_part_storage = 10485760;

INSERT INTO {db}.prospect_exits
SELECT tenant, prospect_id, occurred_at,
       multiIf(type = 'email' AND email_action = 'replied', 'replied',
               type = 'call' AND direction = 'inbound', 'replied',
               type = 'meeting' AND meeting_status IN ('scheduled', 'held'), 'meeting',
               type = 'email' AND email_action = 'bounced', 'bounced',
               type = 'email' AND email_action = 'unsubscribed', 'unsubscribed',
               concat('disposition_', disposition)) AS reason
FROM {db}.activities
WHERE prospect_id != ''
  AND ((type = 'email' AND email_action IN ('replied', 'bounced', 'unsubscribed'))
       OR (type = 'call' AND direction = 'inbound')
       OR (type = 'meeting' AND meeting_status IN ('scheduled', 'held'))
       OR (type = 'disposition'
           AND disposition IN ('qualify', 'disqualify', 'archive', 'postpone')))
  AND (SELECT count() FROM {db}.prospect_exits) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.prospect_exits_mv TO {db}.prospect_exits AS
SELECT tenant, prospect_id, occurred_at,
       multiIf(type = 'email' AND email_action = 'replied', 'replied',
               type = 'call' AND direction = 'inbound', 'replied',
               type = 'meeting' AND meeting_status IN ('scheduled', 'held'), 'meeting',
               type = 'email' AND email_action = 'bounced', 'bounced',
               type = 'email' AND email_action = 'unsubscribed', 'unsubscribed',
               concat('disposition_', disposition)) AS reason
FROM {db}.activities
WHERE prospect_id != ''
  AND ((type = 'email' AND email_action IN ('replied', 'bounced', 'unsubscribed'))
       OR (type = 'call' AND direction = 'inbound')
       OR (type = 'meeting' AND meeting_status IN ('scheduled', 'held'))
       OR (type = 'disposition'
           AND disposition IN ('qualify', 'disqualify', 'archive', 'postpone')));

-- 0013's view, its exits read from prospect_exits (same rows, same columns).
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
