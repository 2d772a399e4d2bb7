-- One row per opportunity stage visit. An out-of-order stage change revises a visit: the
-- newer row (higher version) replaces the old one. Query with FINAL (or the _current view).
CREATE TABLE IF NOT EXISTS {db}.stage_visits
(
    tenant           LowCardinality(String),
    opportunity_id   String,
    account_id       String,
    rep_id           String,
    team_id          LowCardinality(String),
    stage            LowCardinality(String),
    entered_at       DateTime64(3, 'UTC'),
    entered_event_id String,
    exited_at        Nullable(DateTime64(3, 'UTC')),
    next_stage       LowCardinality(String),
    dwell_s          Nullable(Float64),
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(entered_at)
ORDER BY (tenant, opportunity_id, entered_at, entered_event_id);

-- The latest known stage of each opportunity; how long it has sat there is now() - entered.
CREATE TABLE IF NOT EXISTS {db}.opportunity_state
(
    tenant           LowCardinality(String),
    opportunity_id   String,
    account_id       String,
    rep_id           String,
    team_id          LowCardinality(String),
    current_stage    LowCardinality(String),
    stage_entered_at DateTime64(3, 'UTC'),
    first_seen_at    DateTime64(3, 'UTC'),
    stage_changes    UInt32,
    is_closed        UInt8,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, opportunity_id);

CREATE VIEW IF NOT EXISTS {db}.stage_visits_current AS
SELECT *, ifNull(dwell_s, dateDiff('millisecond', entered_at, now64(3, 'UTC')) / 1000.0)
          AS dwell_so_far_s
FROM {db}.stage_visits FINAL;

CREATE VIEW IF NOT EXISTS {db}.opportunity_state_current AS
SELECT *, dateDiff('millisecond', stage_entered_at, now64(3, 'UTC')) / 1000.0 AS in_stage_s
FROM {db}.opportunity_state FINAL;
