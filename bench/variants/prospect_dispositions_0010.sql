-- bench/insert_cost.py variant: `prospect_dispositions` as it was before 0051, a rollup table
-- fed by a materialized view of every `activities` insert (0010), instead of a plain view
DROP VIEW {db}.prospect_dispositions;
CREATE TABLE {db}.prospect_dispositions
(
    tenant      LowCardinality(String),
    prospect_id String,
    disposition LowCardinality(String),
    last_at     SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, prospect_id, disposition)
SETTINGS non_replicated_deduplication_window = 10000, min_bytes_for_full_part_storage = 10485760;
CREATE MATERIALIZED VIEW {db}.prospect_dispositions_mv
TO {db}.prospect_dispositions AS
SELECT tenant, prospect_id, disposition, max(occurred_at) AS last_at
FROM {db}.activities
WHERE type = 'disposition'
GROUP BY tenant, prospect_id, disposition;
