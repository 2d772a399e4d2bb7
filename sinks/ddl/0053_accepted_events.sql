-- The worker's way into `activities`: one JSON object per accepted event, what the worker
-- decided as its keys and the event's own text as received under `event`
-- (schemas/activity_row.py `activity_line`, sinks/rows.py `accepted_events_json`). The engine
-- reads the text fields every event type has from `event` and nothing else from it, so the
-- worker neither builds a row of every column nor writes the event out again
-- (docs/decisions/0009-event-text-insert.md).
--
-- `accepted_events` keeps nothing (Null engine): the view below turns each block into rows of
-- `activities`, whose own views follow as for a direct insert. A retried block is dropped with
-- the insert's token, in `activities` and in its views' targets alike
-- (deduplicate_blocks_in_dependent_materialized_views, sinks/clickhouse.py). Keys that are not
-- columns here, in the object or in `event`, are skipped; an absent or null key is the column's
-- "not set" value ('' or 0).
CREATE TABLE IF NOT EXISTS {db}.accepted_events
(
    occurred_at_ms  Int64,
    ingested_at_ms  Int64,
    kafka_partition UInt16,
    kafka_offset    UInt64,
    cadence_step    UInt8,
    channel         String,
    is_touch        UInt8,
    direction       String,
    outcome         String,
    duration_s      UInt32,
    email_action    String,
    meeting_status  String,
    from_stage      String,
    to_stage        String,
    vendor_stage    String,
    disposition     String,
    lead_status     String,
    schema_version  UInt8,
    is_closed       UInt8,
    is_won          UInt8,
    event Tuple(
        event_id String, tenant String, type String, source String, rep_id String,
        team_id String, account_id String, prospect_id String, opportunity_id String,
        cadence_id String, motion String, product_line String, editor_id String)
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.accepted_events_mv TO {db}.activities AS
SELECT
    event.event_id AS event_id, event.tenant AS tenant, event.type AS type,
    fromUnixTimestamp64Milli(occurred_at_ms, 'UTC') AS occurred_at,
    event.source AS source, event.rep_id AS rep_id, event.team_id AS team_id,
    event.account_id AS account_id, event.prospect_id AS prospect_id,
    event.opportunity_id AS opportunity_id, event.cadence_id AS cadence_id,
    cadence_step, channel, is_touch, direction, outcome, duration_s, email_action,
    meeting_status, from_stage, to_stage, disposition, lead_status, schema_version,
    fromUnixTimestamp64Milli(ingested_at_ms, 'UTC') AS ingested_at,
    kafka_partition, kafka_offset,
    event.motion AS motion, event.product_line AS product_line, event.editor_id AS editor_id,
    vendor_stage, is_closed, is_won
FROM {db}.accepted_events;
