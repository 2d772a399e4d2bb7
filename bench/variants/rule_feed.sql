-- bench/insert_cost.py variant (a prototype, not a design touchline ships), applied after
-- no_rule_views.sql (`--variant rule_feed=bench/variants/no_rule_views.sql,bench/variants/
-- rule_feed.sql`): the six rule views it drops replaced by one view copying the columns they
-- read into a narrow table partitioned by a 10-second epoch, from which a periodic step would
-- fill the six rollups; measures what such a feed costs an insert (the periodic step is not
-- measured).
CREATE TABLE {db}.rule_feed
(
    tenant LowCardinality(String), type LowCardinality(String),
    occurred_at DateTime64(3, 'UTC'), rep_id String, team_id LowCardinality(String),
    account_id String, prospect_id String, opportunity_id String,
    cadence_id LowCardinality(String), cadence_step UInt8, channel LowCardinality(String),
    is_touch UInt8, direction LowCardinality(String), email_action LowCardinality(String),
    meeting_status LowCardinality(String), to_stage LowCardinality(String), is_closed UInt8,
    source LowCardinality(String), disposition LowCardinality(String),
    epoch UInt32 DEFAULT intDiv(toUnixTimestamp(now()), 10)
)
ENGINE = MergeTree PARTITION BY epoch ORDER BY tuple();
CREATE MATERIALIZED VIEW {db}.rule_feed_mv TO {db}.rule_feed AS
SELECT tenant, type, occurred_at, rep_id, team_id, account_id, prospect_id, opportunity_id,
       cadence_id, cadence_step, channel, is_touch, direction, email_action, meeting_status,
       to_stage, is_closed, source, disposition
FROM {db}.activities
WHERE account_id != '' OR prospect_id != '' OR opportunity_id != '' OR type = 'stage_change';
