-- Pre-aggregated state for the dashboard panels that were slow over 100M activity rows
-- (issue 7). ClickHouse keeps every rollup itself: materialized views fed by the same insert as
-- `activities` (like touch_counts) and a projection stored inside the `activities` parts.
-- The panels in dashboards/queries.py read them and return exactly what the old raw-table SQL
-- returned (tests/dashboards/test_rollup_equivalence.py keeps the old SQL as the reference).
--
-- Backfill. A materialized view only sees inserts made after it exists, so each rollup is
-- filled from the rows already in `activities` by an INSERT ... SELECT that runs only while its
-- target is empty: re-running the file (e.g. after a crash half-way) never counts a row twice.
-- The backfill runs BEFORE its view is created, so a crash between the two leaves a filled
-- target and the re-run only adds the view. Run this migration (`touchline sink init`) with the
-- writers stopped, as the compose `init` job does before the workers start: a row inserted while
-- it runs could be missed (before the view exists) or, between the backfill and the view,
-- never reach the rollup. If a backfill was interrupted part-way, TRUNCATE that target and run
-- its INSERT again by hand (writers stopped). The projection is built by MATERIALIZE PROJECTION,
-- which rewrites parts and is safe to repeat.
--
-- Retries: a retried insert into `activities` with the same deduplication token is dropped
-- from the MV targets too (non_replicated_deduplication_window, as on touch_counts).


-- 1. One row per tenant, team, rep and event-time hour: the coaching panels' counts and the
--    set of prospects touched (uniqExact state, merged exactly across hours).
CREATE TABLE IF NOT EXISTS {db}.activity_by_rep_hour
(
    tenant             LowCardinality(String),
    team_id            LowCardinality(String),
    rep_id             String,
    bucket             DateTime('UTC'),
    events             SimpleAggregateFunction(sum, UInt64),
    touches            SimpleAggregateFunction(sum, UInt64),
    call_attempts      SimpleAggregateFunction(sum, UInt64),
    connected_attempts SimpleAggregateFunction(sum, UInt64),
    connected_calls    SimpleAggregateFunction(sum, UInt64),
    emails_sent        SimpleAggregateFunction(sum, UInt64),
    meetings_held      SimpleAggregateFunction(sum, UInt64),
    prospects_touched  AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, team_id, rep_id, bucket)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {db}.activity_by_rep_hour
SELECT
    tenant, team_id, rep_id, toStartOfHour(occurred_at) AS bucket,
    count() AS events,
    countIf(is_touch = 1) AS touches,
    countIf(type = 'call' AND direction = 'outbound') AS call_attempts,
    countIf(type = 'call' AND direction = 'outbound' AND outcome = 'connected')
        AS connected_attempts,
    countIf(type = 'call' AND outcome = 'connected') AS connected_calls,
    countIf(type = 'email' AND email_action = 'sent') AS emails_sent,
    countIf(type = 'meeting' AND meeting_status = 'held') AS meetings_held,
    uniqExactIfState(prospect_id, is_touch = 1 AND prospect_id != '') AS prospects_touched
FROM {db}.activities
WHERE (SELECT count() FROM {db}.activity_by_rep_hour) = 0
GROUP BY tenant, team_id, rep_id, bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.activity_by_rep_hour_mv TO {db}.activity_by_rep_hour AS
SELECT
    tenant, team_id, rep_id, toStartOfHour(occurred_at) AS bucket,
    count() AS events,
    countIf(is_touch = 1) AS touches,
    countIf(type = 'call' AND direction = 'outbound') AS call_attempts,
    countIf(type = 'call' AND direction = 'outbound' AND outcome = 'connected')
        AS connected_attempts,
    countIf(type = 'call' AND outcome = 'connected') AS connected_calls,
    countIf(type = 'email' AND email_action = 'sent') AS emails_sent,
    countIf(type = 'meeting' AND meeting_status = 'held') AS meetings_held,
    uniqExactIfState(prospect_id, is_touch = 1 AND prospect_id != '') AS prospects_touched
FROM {db}.activities
GROUP BY tenant, team_id, rep_id, bucket;


-- 2. The latest time each prospect got each disposition (any rep): "My prospects due a touch"
--    leaves out prospects whose cadence a disposition ended. max() is idempotent, so even a
--    row counted twice could not change it.
CREATE TABLE IF NOT EXISTS {db}.prospect_dispositions
(
    tenant      LowCardinality(String),
    prospect_id String,
    disposition LowCardinality(String),
    last_at     SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, prospect_id, disposition)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {db}.prospect_dispositions
SELECT tenant, prospect_id, disposition, max(occurred_at) AS last_at
FROM {db}.activities
WHERE type = 'disposition' AND (SELECT count() FROM {db}.prospect_dispositions) = 0
GROUP BY tenant, prospect_id, disposition;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.prospect_dispositions_mv
TO {db}.prospect_dispositions AS
SELECT tenant, prospect_id, disposition, max(occurred_at) AS last_at
FROM {db}.activities
WHERE type = 'disposition'
GROUP BY tenant, prospect_id, disposition;


-- 3. Arrivals per tenant, source and ingest second ("Events/s by source"). That panel keeps
--    rows with occurred_at >= (range start - 7 days); a row at most 7 days late always passes
--    (its ingest time is in the range), so those rows share one row per second with
--    occurred_bound = the largest DateTime; later rows keep the second they occurred in.
--    `events_on_the_second` counts rows ingested at .000 ms: the only ones of the range's last
--    second that `ingested_at <= toDateTime(to)` keeps.
CREATE TABLE IF NOT EXISTS {db}.arrivals_by_source_second
(
    tenant               LowCardinality(String),
    ingested_second      DateTime('UTC'),
    source               LowCardinality(String),
    occurred_bound       DateTime('UTC'),
    events               SimpleAggregateFunction(sum, UInt64),
    events_on_the_second SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(ingested_second)
ORDER BY (tenant, ingested_second, source, occurred_bound)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {db}.arrivals_by_source_second
SELECT
    tenant, toDateTime(ingested_at, 'UTC') AS ingested_second, source,
    if(occurred_at < ingested_at - INTERVAL 7 DAY, toDateTime(occurred_at, 'UTC'),
       toDateTime(4294967295, 'UTC')) AS occurred_bound,
    count() AS events,
    countIf(toUnixTimestamp64Milli(ingested_at) % 1000 = 0) AS events_on_the_second
FROM {db}.activities
WHERE (SELECT count() FROM {db}.arrivals_by_source_second) = 0
GROUP BY tenant, ingested_second, source, occurred_bound;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.arrivals_by_source_second_mv
TO {db}.arrivals_by_source_second AS
SELECT
    tenant, toDateTime(ingested_at, 'UTC') AS ingested_second, source,
    if(occurred_at < ingested_at - INTERVAL 7 DAY, toDateTime(occurred_at, 'UTC'),
       toDateTime(4294967295, 'UTC')) AS occurred_bound,
    count() AS events,
    countIf(toUnixTimestamp64Milli(ingested_at) % 1000 = 0) AS events_on_the_second
FROM {db}.activities
GROUP BY tenant, ingested_second, source, occurred_bound;


-- 4. A projection of `activities` sorted by rep: the rep view filters by rep without a team, which
--    the table's key (tenant, day, team, rep, ...) cannot use. Stored in each part, so inserts,
--    retries and merges keep it in step; queries use it whenever it reads fewer marks.
ALTER TABLE {db}.activities ADD PROJECTION IF NOT EXISTS by_rep
(
    SELECT tenant, team_id, rep_id, prospect_id, account_id, cadence_id, cadence_step, is_touch,
           occurred_at
    ORDER BY tenant, rep_id, occurred_at
);

ALTER TABLE {db}.activities MATERIALIZE PROJECTION by_rep SETTINGS mutations_sync = 1
