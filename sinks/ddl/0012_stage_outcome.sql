-- Stage changes as a CRM sends them: the plan's stage (`to_stage`), the CRM's own name
-- (`vendor_stage`), the closed / won outcome decided once by the pipeline
-- (schemas/stages.py: the source's own flags, else won / lost), and who edited the deal when
-- that is not its owner (`editor_id`). Rows written before these columns existed read the
-- outcome from their stage name, as the pipeline decided it then.
ALTER TABLE {db}.activities
    ADD COLUMN IF NOT EXISTS editor_id String DEFAULT '',
    ADD COLUMN IF NOT EXISTS vendor_stage LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS is_closed UInt8
        DEFAULT to_stage IN ('won', 'lost', 'closed_won', 'closed_lost'),
    ADD COLUMN IF NOT EXISTS is_won UInt8 DEFAULT to_stage IN ('won', 'closed_won');

ALTER TABLE {db}.opportunity_state
    ADD COLUMN IF NOT EXISTS is_won UInt8 DEFAULT current_stage IN ('won', 'closed_won'),
    ADD COLUMN IF NOT EXISTS vendor_stage LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS editor_id String DEFAULT '';

-- A visit keeps the outcome and the CRM's name of the stage it entered, so a history read
-- back from here (streams/stage_memory.py) is the history that was recorded.
ALTER TABLE {db}.stage_visits
    ADD COLUMN IF NOT EXISTS is_closed UInt8
        DEFAULT stage IN ('won', 'lost', 'closed_won', 'closed_lost'),
    ADD COLUMN IF NOT EXISTS is_won UInt8 DEFAULT stage IN ('won', 'closed_won'),
    ADD COLUMN IF NOT EXISTS vendor_stage LowCardinality(String) DEFAULT '';

-- Won / lost from the outcome columns (0009 compared stage names).
CREATE OR REPLACE VIEW {db}.opportunity_motion AS
SELECT
    tenant,
    opportunity_id,
    argMax(rep_id, occurred_at) AS rep_id,
    argMax(team_id, occurred_at) AS team_id,
    argMin(account_id, occurred_at) AS account_id,
    if(countIf(motion != '') = 0, 'unspecified', argMaxIf(motion, occurred_at, motion != ''))
        AS motion,
    if(countIf(product_line != '') = 0, 'unspecified',
       argMaxIf(product_line, occurred_at, product_line != '')) AS product_line,
    min(occurred_at) AS opened_at,
    countIf(won_change) > 0 AS is_won,
    countIf(lost_change) > 0 AND NOT is_won AS is_lost,
    if(is_won, minIf(occurred_at, won_change), minIf(occurred_at, lost_change)) AS closed_at
FROM
(
    SELECT *, activities.is_won = 1 AS won_change,
           activities.is_closed = 1 AND activities.is_won = 0 AS lost_change
    FROM {db}.activities
    WHERE type = 'stage_change' AND opportunity_id != ''
)
GROUP BY tenant, opportunity_id;

-- Stage names that are not stages of the tenant's latest plan: a CRM stage the stage map
-- (schemas/vendors/stage_map.py, webhooks.stage_map_path) does not know, or a producer's typo.
-- They are kept as sent (never dropped, never read as some other stage); closed only when the
-- source said so. `touchline stages unmapped` and the ops dashboard list them.
CREATE VIEW IF NOT EXISTS {db}.unmapped_stages AS
SELECT
    a.tenant AS tenant,
    a.source AS source,
    a.to_stage AS stage,
    count() AS changes,
    uniqExact(a.opportunity_id) AS opportunities,
    max(a.is_closed) AS closed_by_source,
    min(a.occurred_at) AS first_seen,
    max(a.occurred_at) AS last_seen,
    any(p.has_plan) AS has_plan
FROM {db}.activities AS a
LEFT JOIN
(
    SELECT tenant, argMax(stages, effective_from) AS stages, 1 AS has_plan
    FROM {db}.plan_versions FINAL GROUP BY tenant
) AS p ON p.tenant = a.tenant
WHERE a.type = 'stage_change' AND NOT has(p.stages, a.to_stage)
GROUP BY a.tenant, a.source, a.to_stage;
