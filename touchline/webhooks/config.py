"""Webhook ingest settings: vendor secrets (SecretStr, from env only), limits, identity map.

Set them as `TOUCHLINE_WEBHOOKS__TWILIO_AUTH_TOKEN=...` and so on (nested delimiter `__`).
A source whose secret is empty is disabled: its endpoint answers 403, never accepts unsigned data.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

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
