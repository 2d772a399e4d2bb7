-- One row of state per tenant, stage name and source, from every stage change: what
-- unmapped_stages (0012) counted by reading every activity of every tenant for each request
-- ("Unmapped CRM stages" on the ops dashboard, `touchline stages unmapped`: 0.8 s of store CPU
-- over 100M rows). A materialized view fed by the same insert as `activities` keeps it (as the
-- 0010 and 0021 rollups), and the view below reads it, returning exactly what the 0012 view
-- returned (tests/dashboards/test_rule_view_rewrites.py keeps the old text as the reference).
-- Only the names the plan does not know are merged when the view is read.
--
-- Backfill, writers and retries: as 0010 (filled while empty, before its view exists; run it
-- with the writers stopped; deduplicated retried blocks never reach it twice).

CREATE TABLE IF NOT EXISTS {db}.stage_names
(
    tenant           LowCardinality(String),
    stage            LowCardinality(String),
    source           LowCardinality(String),
    changes          SimpleAggregateFunction(sum, UInt64),
    opportunities    AggregateFunction(uniqExact, String),
    closed_by_source SimpleAggregateFunction(max, UInt8),
    first_seen       SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen        SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, stage, source)
SETTINGS non_replicated_deduplication_window = 10000,
         min_bytes_for_full_part_storage = 10485760;

INSERT INTO {db}.stage_names
SELECT tenant, to_stage, source, count(), uniqExactState(opportunity_id), max(is_closed),
       min(occurred_at), max(occurred_at)
FROM {db}.activities
WHERE type = 'stage_change' AND (SELECT count() FROM {db}.stage_names) = 0
GROUP BY tenant, to_stage, source;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.stage_names_mv TO {db}.stage_names AS
SELECT tenant, to_stage AS stage, source, count() AS changes,
       uniqExactState(opportunity_id) AS opportunities, max(is_closed) AS closed_by_source,
       min(occurred_at) AS first_seen, max(occurred_at) AS last_seen
FROM {db}.activities
WHERE type = 'stage_change'
GROUP BY tenant, to_stage, source;

-- 0012's view, read from stage_names (same rows, same columns).
CREATE OR REPLACE VIEW {db}.unmapped_stages AS
SELECT
    s.tenant AS tenant,
    s.source AS source,
    s.stage AS stage,
    sum(s.changes) AS changes,
    uniqExactMerge(s.opportunities) AS opportunities,
    max(s.closed_by_source) AS closed_by_source,
    min(s.first_seen) AS first_seen,
    max(s.last_seen) AS last_seen,
    any(p.has_plan) AS has_plan
FROM {db}.stage_names AS s
LEFT JOIN
(
    SELECT tenant, argMax(stages, effective_from) AS stages, 1 AS has_plan
    FROM {db}.plan_versions FINAL GROUP BY tenant
) AS p ON p.tenant = s.tenant
WHERE NOT has(p.stages, s.stage)
GROUP BY s.tenant, s.source, s.stage;
