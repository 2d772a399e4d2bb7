-- Coaching notifications (touchline/coaching/notifier.py). Every delivery has a deterministic
-- key: channel, recipient and event (`fire:<tenant>:<signal_id>:<fired_at>`,
-- `resolve:...`, `digest:<tenant>:<team>:<week>`), so a restarted notifier, or a second one,
-- computes the same keys and never sends one twice.
--
-- A notifier claims a key (one row per attempt and claimant) before it sends; the earliest
-- claim of an attempt wins (ties by claimant id), and only the winner sends.
CREATE TABLE IF NOT EXISTS {db}.notification_claims
(
    notification_key String,
    attempt          UInt16,
    owner            String,
    claimed_at       DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (notification_key, attempt, claimed_at, owner);

-- What became of each delivery: `sent` (once, for good) or `failed` (tried again from
-- next_attempt_at, up to the notifier's max_attempts). The latest version is the state.
CREATE TABLE IF NOT EXISTS {db}.notifications_sent
(
    notification_key String,
    tenant           LowCardinality(String),
    recipient        String,
    channel          LowCardinality(String),
    event            String,
    status           LowCardinality(String),
    attempt          UInt16,
    owner            String,
    batch_id         String,
    error            String,
    at               DateTime64(3, 'UTC'),
    next_attempt_at  DateTime64(3, 'UTC'),
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY notification_key;
