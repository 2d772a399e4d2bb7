-- One row per accepted, deduplicated activity event (the canonical schema, flattened).
-- Empty string = "not set" for optional ids and for fields that do not apply to the type.
CREATE TABLE IF NOT EXISTS {db}.activities
(
    event_id        String,
    tenant          LowCardinality(String),
    type            LowCardinality(String),
    occurred_at     DateTime64(3, 'UTC'),
    source          LowCardinality(String),
    rep_id          String,
    team_id         LowCardinality(String),
    account_id      String,
    prospect_id     String,
    opportunity_id  String,
    cadence_id      LowCardinality(String),
    cadence_step    UInt8,
    channel         LowCardinality(String),
    is_touch        UInt8,
    direction       LowCardinality(String),
    outcome         LowCardinality(String),
    duration_s      UInt32,
    email_action    LowCardinality(String),
    meeting_status  LowCardinality(String),
    from_stage      LowCardinality(String),
    to_stage        LowCardinality(String),
    disposition     LowCardinality(String),
    lead_status     LowCardinality(String),
    schema_version  UInt8,
    ingested_at     DateTime64(3, 'UTC'),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, toDate(occurred_at), team_id, rep_id, occurred_at)
SETTINGS non_replicated_deduplication_window = 10000;
