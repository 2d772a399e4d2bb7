"""What the pipeline rejected and why: the envelope written to the `activities.dlq` topic.

The original bytes travel inside it unchanged (UTF-8 text as is, anything else base64), so
an operator can fix and replay them; `reason` is a short code, `error` names field and cause.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Reason = Literal[
    "invalid_json",
    "invalid_encoding",
    "validation",
    "unknown_type",
    "too_large",
    "late",
    "future",
    "unmappable",
    "unknown_identity",
    "sink_rejected",
]


class DeadLetter(BaseModel):
    """One rejected input (one event, one line of a batch, or one whole message)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Reason
    error: str = Field(max_length=4000)
    failed_at: datetime
    source_topic: str
    partition: int = -1
    offset: int = -1
    line_no: int = 0
    origin: str = ""
    event_id: str = ""
    tenant: str = ""
    payload: str
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    payload_bytes: int = 0

    @classmethod
    def of(cls, raw: bytes, reason: Reason, error: str, **where: object) -> DeadLetter:
        """Wrap the original bytes with the reason, keeping them byte-exact."""
        try:
            payload, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(raw).decode("ascii"), "base64"
        return cls(
            reason=reason,
            error=error[:4000],
            failed_at=datetime.now(UTC),
            payload=payload,
            payload_encoding=encoding,
            payload_bytes=len(raw),
            **where,  # type: ignore[arg-type]
        )

    def original_bytes(self) -> bytes:
        """The rejected input exactly as it arrived."""
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode("utf-8")
