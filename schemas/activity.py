"""The canonical activity event: touchline's public contract (schema_version 1).

One model per event `type`, all sharing `ActivityBase`; `ActivityEvent` is the discriminated
union and `activity_adapter` validates raw JSON bytes straight into it. Inbound models ignore
unknown fields (forward compatibility). Timestamps must carry a timezone; rows store them as
UTC instants.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION = 1

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
OptionalId = Annotated[str | None, Field(default=None, min_length=1, max_length=128)]
Stage = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]

CallOutcome = Literal["connected", "no_answer", "busy", "voicemail", "failed"]
EmailAction = Literal[
    "sent", "delivered", "opened", "clicked", "replied", "bounced", "unsubscribed"]
MeetingStatus = Literal["scheduled", "held", "no_show", "cancelled"]
DispositionKind = Literal["qualify", "disqualify", "postpone", "archive", "revisit"]
LeadStatus = Literal["created", "assigned"]
Motion = Literal["acquisition", "retention", "upsell"]
EVENT_TYPES = ("call", "email", "meeting", "stage_change", "disposition", "lead")


class ActivityBase(BaseModel):
    """Fields every activity event carries."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Id = Field(description="Dedup key: unique per source event (retries reuse it).")
    tenant: Id
    #: strict: JSON must give a string (a number would silently be read as epoch seconds);
    #: checked by pydantic-core itself, a Python validator here cost ~20% of validation.
    #: The offset given is kept; the row stores the instant as UTC epoch milliseconds
    #: (schemas/activity_row.py), so no validator converts it (one cost ~0.5-1.7 µs an event)
    occurred_at: AwareDatetime = Field(
        strict=True, description="Event time; an RFC 3339 string that carries a timezone.")
    source: Id = Field(description="simulator, twilio, sendgrid, salesforce, hubspot, ...")
    rep_id: Id
    team_id: Id
    account_id: Id
    prospect_id: OptionalId = None
    opportunity_id: OptionalId = None
    cadence_id: OptionalId = None
    cadence_step: int | None = Field(default=None, ge=1, le=255)
    motion: Motion | None = Field(
        default=None,
        description="Sales motion the activity serves: acquisition (new logo), retention "
        "(renewal, save) or upsell (expansion of an existing customer).",
    )
    product_line: OptionalId = Field(
        default=None, description="Product line the activity or deal is about."
    )
    editor_id: OptionalId = Field(
        default=None,
        description="Who made the change in the source system when it is not the owner "
        "(`rep_id`): a CRM user who edited a deal someone else owns.",
    )

    @property
    def channel(self) -> str:
        """The channel of a touch-capable activity, '' for others."""
        return ""

    @property
    def is_touch(self) -> bool:
        """A touch is an outbound rep action: a call attempt, an email sent, a meeting held."""
        return False


class Call(ActivityBase):
    """A call attempt (outbound) or a received call (inbound)."""

    type: Literal["call"]
    direction: Literal["outbound", "inbound"] = "outbound"
    outcome: CallOutcome
    duration_s: int = Field(default=0, ge=0, le=86_400)

    @property
    def channel(self) -> str:  # noqa: D102
        return "call"

    @property
    def is_touch(self) -> bool:  # noqa: D102
        return self.direction == "outbound"


class Email(ActivityBase):
    """An email lifecycle step: sent, delivered, opened, clicked, replied, bounced, unsubscribed."""

    type: Literal["email"]
    action: EmailAction

    @property
    def channel(self) -> str:  # noqa: D102
        return "email"

    @property
    def is_touch(self) -> bool:  # noqa: D102
        return self.action == "sent"


class Meeting(ActivityBase):
    """A meeting status change."""

    type: Literal["meeting"]
    status: MeetingStatus

    @property
    def channel(self) -> str:  # noqa: D102
        return "meeting"

    @property
    def is_touch(self) -> bool:  # noqa: D102
        return self.status == "held"


class StageChange(ActivityBase):
    """An opportunity moved from one stage to another (won and lost are stages too)."""

    type: Literal["stage_change"]
    opportunity_id: Id
    from_stage: Stage | None = None
    to_stage: Stage = Field(description="The plan's stage name (a vendor stage is mapped).")
    vendor_stage: Stage | None = Field(
        default=None, description="The source system's own stage name, when it differs.")
    is_closed: bool | None = Field(
        default=None, description="The source's own closed flag (Salesforce IsClosed); "
        "unset: closed when to_stage is won or lost.")
    is_won: bool | None = Field(
        default=None, description="The source's own won flag (Salesforce IsWon); "
        "unset: won when to_stage is won.")


class Disposition(ActivityBase):
    """A rep's decision about a prospect between the first and the last cadence touch."""

    type: Literal["disposition"]
    prospect_id: Id
    disposition: DispositionKind


class Lead(ActivityBase):
    """A new lead (prospect) arrived and was assigned to a rep: the speed-to-lead clock starts."""

    type: Literal["lead"]
    prospect_id: Id
    status: LeadStatus = "created"


ActivityEvent = Annotated[
    Call | Email | Meeting | StageChange | Disposition | Lead, Field(discriminator="type")
]
activity_adapter: TypeAdapter[ActivityEvent] = TypeAdapter(ActivityEvent)


def parse_activity(raw: bytes | str) -> ActivityEvent:
    """Validate one JSON event; raises pydantic.ValidationError naming field and reason."""
    return activity_adapter.validate_json(raw)
