-- The cadence rollup as it was before 0047: `cadence_starts` (0042, first and last touch only)
-- fed by the insert in place of `cadence_touches` (bench/insert_cost.py compares what each
-- costs an insert; the views are not changed, so only inserts can be measured with it).
DROP VIEW IF EXISTS touchline.cadence_touches_mv;

CREATE TABLE IF NOT EXISTS touchline.cadence_starts
(
    tenant        LowCardinality(String),
    cadence_id    LowCardinality(String),
    prospect_id   String,
    rep_id        String,
    started_at    SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_touch_at SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, rep_id, cadence_id, prospect_id)
SETTINGS non_replicated_deduplication_window = 10000,
         min_bytes_for_full_part_storage = 10485760;

CREATE MATERIALIZED VIEW IF NOT EXISTS touchline.cadence_starts_mv TO touchline.cadence_starts AS
SELECT tenant, cadence_id, prospect_id, rep_id, min(occurred_at) AS started_at,
       max(occurred_at) AS last_touch_at
FROM touchline.activities
WHERE is_touch = 1 AND cadence_id != '' AND prospect_id != '' AND cadence_step > 0
GROUP BY tenant, cadence_id, prospect_id, rep_id;
