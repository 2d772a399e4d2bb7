"""The one settings object: every runtime knob, read from env (TOUCHLINE_*) or .env.

`TOUCHLINE_KAFKA__BOOTSTRAP=127.0.0.1:9092` sets `settings.kafka.bootstrap`, and so on.
Build it once at the edge with `get_settings()` and pass parts of it inward.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseModel):
    """Broker address, topic names and partition counts."""

    bootstrap: str = "127.0.0.1:29092"
    raw_topic: str = "activities.raw"
    activities_topic: str = "activities"
    dlq_topic: str = "activities.dlq"
    #: history loaded with `touchline ingest` (any age): its own lane beside `raw_topic`, so
    #: a year of backfill never queues in front of live events (docs/semantics.md)
    backfill_topic: str = "activities.backfill"
    partitions: int = Field(4, ge=1, le=256)
    replication_factor: int = Field(1, ge=1)
    #: retention of raw and internal topics; short on the embedded broker (it keeps all in RAM)
    retention_ms: int = 6 * 3600 * 1000
    #: static group membership (a restarted worker takes its partitions back at once);
    #: needed on noida-db, which never evicts a dead member; Tansu does not support it.
    #: Apache Kafka does not need it: the broker-semantics tests run there without it
    #: (docs/brokers.md)
    static_membership: bool = True
    #: pause after a fetch that brought nothing (the embedded broker does not long-poll, so
    #: an idle consumer would spin); 0 turns it off (streams/fetch_backoff.py). Only for
    #: noida-db: Apache Kafka long-polls, and the tests run there with 0 (docs/brokers.md)
    empty_fetch_backoff_ms: int = Field(25, ge=0, le=2000)
    #: how long a broker may hold a worker's fetch when it has nothing new (Faust asks for
    #: 1,500). aiokafka sends one fetch at a time to a broker, so partitions with new records
    #: can wait that long behind a fetch of the others: a behind worker then stayed 2-3 s behind
    #: on Apache Kafka (streams/fetch_backoff.py)
    fetch_max_wait_ms: int = Field(100, ge=0, le=30_000)
    embedded: bool = True
    #: what the embedded broker binds to
    embedded_port: int = 29092
    #: codec of every batch touchline produces (raw events, forwarded rows, dead letters).
    #: Brokers store batches as sent, so compression keeps the embedded broker's store, which
    #: it rewrites after every change, many times smaller. zstd: half of lz4's bytes, and a
    #: fifth of the producer's CPU of aiokafka's lz4 (level 9)
    #: (docs/decisions/0003-lz4-producers.md); `none` to turn it off. Consumers read any
    #: codec whatever this says.
    compression: Literal["lz4", "zstd", "gzip", "snappy", "none"] = "zstd"

    @property
    def compression_type(self) -> str | None:
        """The codec as Kafka clients take it (None = uncompressed)."""
        return None if self.compression == "none" else self.compression


class ClickHouseSettings(BaseModel):
    """Where rows go.

    `chdb:///dir` (embedded engine), `http://host:8123` (server) or `store://127.0.0.1:PORT`
    (the embedded engine, through the process that owns it).
    """

    dsn: str = ""
    database: str = "touchline"
    username: str = "default"
    password: SecretStr = SecretStr("")
    #: the embedded store's HTTP port (the process that owns the chdb directory)
    store_port: int = 28124
    #: ClickHouse's max_execution_time for read-only queries (query CLI, panels, workers'
    #: reads): a reader cannot hold the engine longer (sinks/reader_pool.py)
    read_timeout_s: int = Field(30, ge=1, le=3600)


class PipelineSettings(BaseModel):
    """Semantics of the stream: batching, lateness, dedup."""

    #: a validation batch closes at `batch_messages` raw messages or `batch_events` events,
    #: whichever comes first, or `batch_seconds` after its first message was queued (decision
    #: 0004: a message that waited while every batch in flight was busy has used up that much
    #: of its window). Measured on 2 cores
    #: (docs/decisions/0004-batch-defaults.md): 100k events (500 JSONL messages of
    #: touchline's producers) keep a backlog in batches small enough for two to overlap (400k
    #: gave one batch and no overlap), and 0.25 s keeps freshness p99 under 1 s at half the
    #: max rate with no Coach pass running (a shorter window costs the store per batch).
    #: The message limit keeps one-event messages from outside producers in inserts
    #: of tens of thousands of rows (the store's cost is mostly per insert: with 10,000-message
    #: batches it spent 1.3-1.5x the CPU per event of 30,000, with 5,000 1.5x that again);
    #: validation gives the event loop a turn every 2,000 events, so a big batch does not
    #: hold offset commits and the other batch in flight (streams/validate_batch.py). 100,000
    #: gave no more than 30,000 and a worker ~65 MB bigger (docs/performance.md)
    batch_messages: int = Field(30_000, ge=1)
    batch_events: int = Field(100_000, ge=1)
    batch_seconds: float = Field(0.25, gt=0, le=10)
    #: backfill messages taken per batch: small, so that a backfill insert never keeps live
    #: batches waiting for long (the worker writes one insert at a time)
    backfill_batch_messages: int = Field(20, ge=1)
    #: validate/record batches in flight per worker: while one batch waits for ClickHouse
    #: and the broker, the next is validated (offsets still commit only past contiguous
    #: finished messages). 2: 68-70k events/s per worker vs 55-58k with 1
    #: (docs/performance.md)
    concurrency: int = Field(2, ge=1, le=8)
    #: how far behind its tenant's watermark an event is deduplicated in memory; an older
    #: event (a backfill) is deduplicated against the stored rows instead, and stage histories
    #: of opportunities quiet for longer leave memory (docs/semantics.md)
    allowed_lateness_s: int = 7 * 24 * 3600
    #: events further in the future than this (vs the wall clock) go to the DLQ as `future`
    max_future_skew_s: int = 15 * 60
    #: a raw message larger than this goes to the DLQ as `too_large`
    max_message_bytes: int = 4 * 1024 * 1024
    #: one event (one line) larger than this goes to the DLQ as `too_large`
    max_event_bytes: int = 64 * 1024
    #: glibc malloc: allocations at least this large get their own mapping, returned to the
    #: system when freed (0: glibc's adaptive default). The adaptive default raises the limit
    #: after the first large free, so the dedup window's big set tables then come from the
    #: heap and leave holes: in a soak that heap grew 46 -> 147 MB, 45 MB of it free
    #: (docs/decisions/0005-mmap-threshold.md)
    mmap_threshold_bytes: int = Field(256 * 1024, ge=0, le=32 * 1024 * 1024)
    #: how often the leader's Coach pass runs (seconds). Each pass judges speed-to-lead and one
    #: of the other six rules in turn (touchline.plan.rules `judged_on_pass`): each of those
    #: every 6 passes. Every rule at once over a big org's history cost the store seconds of
    #: CPU (2,000 reps, 100M rows: 2.5-3 s of wall time, 4-5 s of CPU; docs/performance.md); the
    #: rules judge hours and days, so a longer interval costs a signal little but that delay
    coach_interval_s: float = Field(30.0, ge=1, le=86_400)
    #: the commit guard (streams/commit_guard.py) reads a partition again from its committed
    #: offset when the message there was fetched, is not in work and no commit is in flight,
    #: and the offset stood still this long while later offsets were acknowledged ...
    commit_stall_s: float = Field(5.0, gt=0, le=3600)
    #: ... or this long with nothing acknowledged after it (a lost last message)
    commit_tail_stall_s: float = Field(30.0, gt=0, le=3600)
    #: fault drill, tests only: every second the guard reads every partition with more on
    #: the broker again from its committed offset, queued or in work (re-reads are deduplicated)
    commit_guard_drill: bool = False
    #: table recovery (streams/recovery_guard.py): a changelog partition with records still to
    #: read and none received for this long is read again from where its recovery stands
    recovery_stall_s: float = Field(30.0, gt=0, le=3600)
    #: fault drill, tests only: each changelog partition's first recovery starts past its
    #: records, as if they had been fetched and lost, so that only the guard's reading again
    #: can finish it
    recovery_guard_drill: bool = False


class WebSettings(BaseModel):
    """The local control panel and webhook ingest HTTP servers."""

    host: str = "127.0.0.1"
    panel_port: int = 28501
    ingest_port: int = 28080
    max_body_bytes: int = 1024 * 1024


class OrgSettings(BaseModel):
    """The org file (docs/org.md): teams, reps with their vendor identities, accounts."""

    #: YAML org file whose reps' and accounts' vendor identities (Salesforce, HubSpot,
    #: Outreach ids, phones, emails, domains) the map_<source> agents resolve, merged with the
    #: identity map (webhooks.identity_map_path); unset or empty = the identity map alone
    path: Path | None = None

    @field_validator("path", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class NotifySettings(BaseModel):
    """The coaching notifier (docs/coaching.md): where signals and digests go, and how often."""

    #: routing YAML (teams and managers to email, Slack, webhooks); unset = nothing is sent
    routing_path: Path | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    mail_from: str = "touchline@localhost"
    #: one message per recipient and channel at most every `batch_s` (signals wait that long)
    batch_s: float = Field(300.0, ge=0)
    poll_s: float = Field(15.0, gt=0)
    #: a claimed notification neither sent nor failed after this long is tried again
    lease_s: float = Field(600.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    #: the weekly digest goes out on this ISO weekday (1 = Monday; 0 = never) at this UTC hour
    digest_weekday: int = Field(1, ge=0, le=7)
    digest_hour: int = Field(7, ge=0, le=23)

    @field_validator("routing_path", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


#: vendors whose webhooks `touchline serve` takes: a raw topic and an agent each
SOURCES = ("twilio", "sendgrid", "salesforce", "hubspot", "outreach")


class WebhookSettings(BaseModel):
    """Secrets and knobs of `touchline serve` and of the map_<source> agents."""

    #: Twilio account auth token (X-Twilio-Signature, HMAC-SHA1)
    twilio_auth_token: SecretStr = SecretStr("")
    #: SendGrid Signed Event Webhook verification key (base64 DER, as shown in the SendGrid UI)
    sendgrid_public_key: SecretStr = SecretStr("")
    #: HubSpot app client secret (X-HubSpot-Signature-v3, HMAC-SHA256)
    hubspot_client_secret: SecretStr = SecretStr("")
    #: Outreach webhook secret (Outreach-Webhook-Signature, HMAC-SHA256 hex of the body)
    outreach_secret: SecretStr = SecretStr("")
    #: bearer token the Salesforce CDC relay sends (Salesforce itself pushes no HTTP webhooks)
    salesforce_relay_token: SecretStr = SecretStr("")
    #: vendor raw topics are `<prefix><source>` (raw.twilio, raw.sendgrid, ...)
    raw_topic_prefix: str = "raw."
    #: the public URL vendors call (scheme://host[:port], no trailing slash); Twilio and HubSpot
    #: sign the URL they called, which differs from what the server sees behind a proxy.
    #: Unset: signatures are checked against the server's own configured address
    #: (http://<web.host>:<web.ingest_port>), never against the request's Host header
    public_base_url: str = ""
    #: YAML identity map: phones, emails, CRM ids -> rep / team / account / prospect
    identity_map_path: Path = Path("examples/identities.yaml")
    #: YAML stage map: the CRM's stage names -> the plan's stages, beside the built-in defaults
    #: for Salesforce's and HubSpot's default pipelines (schemas/vendors/stage_map.py)
    stage_map_path: Path | None = None
    #: tenant of mapped events ('' = the top-level settings.tenant)
    tenant: str = ""
    #: HubSpot v3 requests older than this are rejected (HubSpot documents 5 minutes)
    hubspot_max_age_s: int = Field(300, ge=1)
    #: SendGrid signed requests older than this are rejected (0 = no age check)
    sendgrid_max_age_s: int = Field(600, ge=0)
    #: how long a request waits for the broker's acknowledgement before answering 503
    broker_timeout_s: float = Field(5.0, gt=0, le=60)
    #: a request body not received whole within this is refused (408) and its connection
    #: closed: a client that stalls mid-body cannot hold a connection open
    body_timeout_s: float = Field(10.0, gt=0, le=300)
    #: requests of one client address in progress at once; more get 429
    max_requests_per_client: int = Field(64, ge=1)
    #: Twilio replay horizon: an identical signed callback seen within it is answered 200 and
    #: not stored again. Longer than the pipeline's dedup span (7 days): a callback without a
    #: Timestamp is dated by its arrival, so only this cache bounds its replays (in memory:
    #: a restart forgets it; touchline/webhooks/README.md)
    twilio_replay_window_s: int = Field(8 * 24 * 3600, ge=60)
    #: callbacks remembered for the replay check (the oldest are forgotten first)
    twilio_replay_cache_size: int = Field(200_000, ge=1000)

    def raw_topic(self, source: str) -> str:
        """The raw topic of a vendor's webhook Envelopes: `<raw_topic_prefix><source>`."""
        return f"{self.raw_topic_prefix}{source}"


class SecurityConfigError(ValueError):
    """The security settings cannot produce safe statements (the message says what to set)."""


class SecuritySettings(BaseModel):
    """ClickHouse users of server mode (`touchline sink init --users`); passwords from env.

    TOUCHLINE_SECURITY__WRITER_PASSWORD, TOUCHLINE_SECURITY__READER_PASSWORD and
    TOUCHLINE_SECURITY__TENANT_READERS='{"acme": "<password>"}' (one reader user per tenant,
    named `<tenant_user_prefix><tenant>`).
    """

    writer_user: str = Field("touchline_writer", min_length=1, max_length=64)
    writer_password: SecretStr = SecretStr("")
    reader_user: str = Field("touchline_reader", min_length=1, max_length=64)
    reader_password: SecretStr = SecretStr("")
    tenant_user_prefix: str = Field("touchline_reader_", max_length=48)
    #: JSON object tenant -> password, kept whole as a secret (so no repr/env dump shows it)
    tenant_readers: SecretStr = SecretStr("")
    #: password hashing of the created users
    auth: str = Field("sha256_password", pattern=r"^(sha256_password|double_sha1_password)$")

    def tenant_passwords(self) -> dict[str, SecretStr]:
        """Tenant -> reader password, from the `tenant_readers` JSON object."""
        text = self.tenant_readers.get_secret_value().strip()
        if not text:
            return {}
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
            raise SecurityConfigError(
                'TOUCHLINE_SECURITY__TENANT_READERS must be a JSON object {"<tenant>": '
                '"<password>", ...}')
        return {tenant: SecretStr(password) for tenant, password in doc.items()}


class Settings(BaseSettings):
    """All of touchline's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="TOUCHLINE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Path(".touchline")
    tenant: str = "acme"
    worker_id: str = "worker-1"
    faust_app_id: str = "touchline"
    log_level: str = "warn"
    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    pipeline: PipelineSettings = PipelineSettings()
    web: WebSettings = WebSettings()
    webhooks: WebhookSettings = WebhookSettings()
    security: SecuritySettings = SecuritySettings()
    org: OrgSettings = OrgSettings()
    notify: NotifySettings = NotifySettings()

    def clickhouse_dsn(self) -> str:
        """The DSN to use: the configured one, or the embedded engine under data_dir."""
        if self.clickhouse.dsn:
            return self.clickhouse.dsn
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    def store_url(self) -> str:
        """The embedded store's endpoint (used while it owns the data dir).

        It names the file with the stack's secret (sinks/store_auth.py), not the secret.
        """
        key_file = (self.data_dir / "store.secret").resolve()
        return f"store://127.0.0.1:{self.clickhouse.store_port}?{urlencode({'key_file': key_file})}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
