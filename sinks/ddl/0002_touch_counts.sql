-- Touches per entity (prospect, account, rep, team), channel and event-time hour.
-- Filled by a materialized view from the same insert as `activities`, so a count can never
-- disagree with the raw rows; SummingMergeTree folds the increments. Always sum(touches).
CREATE TABLE IF NOT EXISTS {db}.touch_counts
(
    tenant      LowCardinality(String),
    entity_type LowCardinality(String),
    entity_id   String,
    channel     LowCardinality(String),
    bucket      DateTime('UTC'),
    touches     UInt64
)
ENGINE = SummingMergeTree(touches)
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, entity_type, entity_id, channel, bucket)
-- a retried insert into `activities` is dropped here too (same token), not counted twice
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.touch_counts_mv TO {db}.touch_counts AS
SELECT
    tenant,
    entity.1 AS entity_type,
    entity.2 AS entity_id,
    channel,
    toStartOfHour(occurred_at) AS bucket,
    count() AS touches
FROM {db}.activities
ARRAY JOIN [('prospect', prospect_id), ('account', account_id), ('rep', rep_id),
            ('team', team_id)] AS entity
WHERE is_touch = 1 AND entity.2 != ''
GROUP BY tenant, entity_type, entity_id, channel, bucket;

-- Rolling windows over whole event-time hours ending with the current hour:
-- 1h = the current hour, 1d = the last 24 hours, 7d = 168, 30d = 720.
CREATE VIEW IF NOT EXISTS {db}.touch_counts_rolling AS
SELECT
    tenant,
    entity_type,
    entity_id,
    channel,
    sumIf(touches, bucket >= toStartOfHour(now('UTC'))) AS touches_1h,
    sumIf(touches, bucket > toStartOfHour(now('UTC')) - INTERVAL 24 HOUR) AS touches_1d,
    sumIf(touches, bucket > toStartOfHour(now('UTC')) - INTERVAL 168 HOUR) AS touches_7d,
    sum(touches) AS touches_30d
FROM {db}.touch_counts
WHERE bucket > toStartOfHour(now('UTC')) - INTERVAL 720 HOUR
GROUP BY tenant, entity_type, entity_id, channel;
