"""What one accepted webhook request becomes on `raw.<source>`: a JSON envelope.

The envelope keeps the raw body byte-exact (UTF-8 text, or base64 with a flag), the URL and the
few headers a mapping needs, never a secret. The map_<source> agents read it back.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

#: request headers kept per source (lower-case); signatures are kept for audit, not re-checked
KEPT_HEADERS: dict[str, tuple[str, ...]] = {
    "twilio": ("x-twilio-signature", "i-twilio-idempotency-token", "user-agent"),
    "sendgrid": (
        "x-twilio-email-event-webhook-signature",
        "x-twilio-email-event-webhook-timestamp",
        "user-agent",
    ),
    "salesforce": ("user-agent",),
    "hubspot": ("x-hubspot-signature-v3", "x-hubspot-request-timestamp", "user-agent"),
    "outreach": ("outreach-webhook-signature", "user-agent"),
}


class Envelope(BaseModel):
    """One webhook request as stored on the vendor raw topic."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    source: str
    received_at: datetime
    url: str
    method: str
    content_type: str
    headers: dict[str, str]
    body: str
    body_encoding: Literal["utf-8", "base64"] = "utf-8"
    request_id: str

    @classmethod
    def of(cls, body: bytes, **fields: object) -> Envelope:
        """Wrap a raw body: UTF-8 as text, anything else base64."""
        try:
            text, encoding = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(body).decode("ascii"), "base64"
        return cls(body=text, body_encoding=encoding, **fields)  # type: ignore[arg-type]

    def body_bytes(self) -> bytes:
        """The request body exactly as received."""
        if self.body_encoding == "base64":
            return base64.b64decode(self.body)
        return self.body.encode("utf-8")
