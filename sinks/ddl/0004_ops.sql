-- Everything the pipeline rejected, with the reason; the original bytes are in `payload`.
-- `dlq_key` identifies the rejected input (reason + event id, or where the bytes were read),
-- so a rejection replayed after a crash replaces itself: count with FINAL or uniqExact.
CREATE TABLE IF NOT EXISTS {db}.dlq_events
(
    dlq_key          String,
    failed_at        DateTime64(3, 'UTC'),
    reason           LowCardinality(String),
    error            String,
    source_topic     LowCardinality(String),
    partition        Int32,
    offset           Int64,
    line_no          UInt32,
    origin           String,
    event_id         String,
    tenant           LowCardinality(String),
    payload          String,
    payload_encoding LowCardinality(String),
    payload_bytes    UInt64,
    dlq_partition    UInt16,
    dlq_offset       UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(failed_at)
ORDER BY dlq_key
TTL toDateTime(failed_at) + INTERVAL 90 DAY;

-- Worker progress, one row per worker, partition and report interval (about 1 s).
CREATE TABLE IF NOT EXISTS {db}.pipeline_metrics
(
    ts              DateTime64(3, 'UTC'),
    worker          LowCardinality(String),
    topic           LowCardinality(String),
    partition       UInt16,
    messages        UInt64,
    events_in       UInt64,
    accepted        UInt64,
    duplicates      UInt64,
    rejected        UInt64,
    committed       Int64,
    highwater       Int64,
    lag             Int64,
    max_event_time  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(ts)
ORDER BY (ts, worker, topic, partition)
TTL toDateTime(ts) + INTERVAL 14 DAY;
