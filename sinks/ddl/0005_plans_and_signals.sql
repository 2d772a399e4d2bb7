-- Dimensions: who is who. Filled by `touchline plan load` / the simulator / the mapping table.
CREATE TABLE IF NOT EXISTS {db}.reps
(
    tenant     LowCardinality(String),
    rep_id     String,
    name       String,
    team_id    LowCardinality(String),
    role       LowCardinality(String),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant, rep_id);

CREATE TABLE IF NOT EXISTS {db}.accounts
(
    tenant        LowCardinality(String),
    account_id    String,
    name          String,
    tier          LowCardinality(String),
    segment       LowCardinality(String),
    team_id       LowCardinality(String),
    owner_rep_id  String,
    updated_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant, account_id);

-- The plan ("Define"): every row carries the plan version and the moment it takes effect, so
-- history is judged against the plan in force at the time.
CREATE TABLE IF NOT EXISTS {db}.plan_stage_slas
(
    tenant         LowCardinality(String),
    plan_version   String,
    effective_from DateTime64(3, 'UTC'),
    segment        LowCardinality(String),
    stage          LowCardinality(String),
    sla_s          UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, segment, stage, effective_from);

CREATE TABLE IF NOT EXISTS {db}.plan_activity_targets
(
    tenant         LowCardinality(String),
    plan_version   String,
    effective_from DateTime64(3, 'UTC'),
    role           LowCardinality(String),
    activity       LowCardinality(String),
    weekly_target  UInt32
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, role, activity, effective_from);

CREATE TABLE IF NOT EXISTS {db}.plan_cadence_steps
(
    tenant         LowCardinality(String),
    plan_version   String,
    effective_from DateTime64(3, 'UTC'),
    cadence_id     LowCardinality(String),
    step           UInt8,
    channel        LowCardinality(String),
    wait_s         UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, cadence_id, step, effective_from);

CREATE TABLE IF NOT EXISTS {db}.plan_tiers
(
    tenant             LowCardinality(String),
    plan_version       String,
    effective_from     DateTime64(3, 'UTC'),
    tier               LowCardinality(String),
    untouched_after_s  UInt64,
    speed_to_lead_s    UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, tier, effective_from);

-- Coaching signals ("Coach"): one row per condition, stable id; a resolved condition gets a
-- newer version with status 'resolved'. Query with FINAL (or signals_current).
CREATE TABLE IF NOT EXISTS {db}.signals
(
    tenant       LowCardinality(String),
    signal_id    String,
    kind         LowCardinality(String),
    status       LowCardinality(String),
    team_id      LowCardinality(String),
    rep_id       String,
    subject_type LowCardinality(String),
    subject_id   String,
    activity     String,
    message      String,
    evidence     String,
    fired_at     DateTime64(3, 'UTC'),
    resolved_at  Nullable(DateTime64(3, 'UTC')),
    version      UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, signal_id);

CREATE VIEW IF NOT EXISTS {db}.signals_current AS
SELECT * FROM {db}.signals FINAL;
