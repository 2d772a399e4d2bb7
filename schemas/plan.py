"""The sales plan ("Define"): stages and SLAs, cadences, activity targets, tiers (schema v1).

A plan is a versioned YAML document validated by `Plan`; `touchline plan load` turns it into
`plan_*` rows stamped with `plan_version` and `effective_from`, so history is judged against
the plan in force at the time. Internal model: unknown fields are errors, values are frozen.
Durations are written as a number and a unit (`30m`, `1h`, `14d`, `2w`) or as seconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

PLAN_SCHEMA_VERSION = 1

#: the high-impact activities a role can carry a weekly target for
ACTIVITIES = (
    "call_attempts",
    "connected_calls",
    "emails_sent",
    "meetings_held",
    "leads_touched_within_sla",
)
#: activities whose target is a percentage rather than a weekly count
PERCENT_ACTIVITIES = ("leads_touched_within_sla",)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Activity = Literal[
    "call_attempts", "connected_calls", "emails_sent", "meetings_held", "leads_touched_within_sla"
]
Channel = Literal["call", "email", "meeting"]


def parse_duration(value: object) -> int:
    """Seconds from `90`, `"30m"`, `"1h"`, `"14d"` or `"2w"`.

    Raises:
        ValueError: the value is not a non-negative duration.
    """
    if isinstance(value, bool):
        raise ValueError("a duration is a number and a unit, e.g. 30m, 4h, 14d")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return value
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return int(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError(f"{value!r} is not a duration: use a number and a unit, e.g. 30m, 4h, 14d")


def format_duration(seconds: int | float) -> str:
    """The largest whole unit that fits: 1209600 -> '14d', 5400 -> '90m'."""
    seconds = int(seconds)
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds}s"


Duration = Annotated[int, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[int, BeforeValidator(parse_duration), Field(gt=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SegmentPlan(_Frozen):
    """How long a deal of this segment may sit in each open stage."""

    stage_slas: dict[Name, PositiveDuration] = Field(min_length=1)


class TierPlan(_Frozen):
    """Per account tier: the untouched threshold and the speed-to-lead SLA."""

    untouched_after: PositiveDuration
    speed_to_lead: PositiveDuration


class RolePlan(_Frozen):
    """Weekly targets of one role's high-impact activities."""

    weekly_targets: dict[Activity, Annotated[int, Field(ge=0, le=100_000)]] = Field(min_length=1)

    @field_validator("weekly_targets")
    @classmethod
    def _percentages(cls, value: dict[str, int]) -> dict[str, int]:
        for name in PERCENT_ACTIVITIES:
            if value.get(name, 0) > 100:
                raise ValueError(f"{name} is a percentage of new leads: 0 to 100")
        return value


class CadenceStep(_Frozen):
    """One step: its channel and the wait after the previous step."""

    channel: Channel
    wait: Duration = 0


class CadencePlan(_Frozen):
    """An ordered sequence of touches."""

    steps: list[CadenceStep] = Field(min_length=1, max_length=255)


class CoachingPlan(_Frozen):
    """When coaching signals fire."""

    cadence_behind_steps: int = Field(2, ge=1, le=50)
    cadence_behind_min_prospects: int = Field(3, ge=1)
    cadence_grace: Duration = 86_400
    activity_mix_min_ratio: float = Field(0.5, gt=0, le=1)
    activity_mix_min_elapsed: Duration = 86_400
    #: a rep with no touch for longer than this is idle (weekends included: keep it above 2d)
    idle_rep_after: Duration = 3 * 86_400
    #: an open deal with nothing on it (no stage change, no touch on its account) this long
    deal_inactive_after: Duration = 14 * 86_400


class PlanDefaults(_Frozen):
    """Used when an account or a rep is missing from the dimension tables."""

    segment: Name
    tier: Name
    role: Name


class Plan(_Frozen):
    """One version of a tenant's sales plan."""

    schema_version: Literal[1] = PLAN_SCHEMA_VERSION
    plan_version: Name
    tenant: Name
    effective_from: AwareDatetime
    stages: list[Name] = Field(min_length=1)
    closed_stages: list[Name] = Field(default_factory=lambda: ["won", "lost"])
    defaults: PlanDefaults
    segments: dict[Name, SegmentPlan] = Field(min_length=1)
    tiers: dict[Name, TierPlan] = Field(min_length=1)
    roles: dict[Name, RolePlan] = Field(min_length=1)
    cadences: dict[Name, CadencePlan] = Field(default_factory=dict)
    coaching: CoachingPlan = CoachingPlan()

    @field_validator("effective_from")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("stages")
    @classmethod
    def _unique_stages(cls, value: list[str]) -> list[str]:
        dupes = sorted({s for s in value if value.count(s) > 1})
        if dupes:
            raise ValueError(f"stages listed twice: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        known = set(self.stages)
        unknown_closed = [s for s in self.closed_stages if s not in known]
        if unknown_closed:
            raise ValueError(
                f"closed_stages: {', '.join(unknown_closed)} not in stages "
                f"({', '.join(self.stages)})"
            )
        closed = set(self.closed_stages)
        for segment, plan in self.segments.items():
            for stage in plan.stage_slas:
                if stage not in known:
                    raise ValueError(
                        f"segments.{segment}.stage_slas.{stage}: unknown stage "
                        f"(stages are {', '.join(self.stages)})"
                    )
                if stage in closed:
                    raise ValueError(
                        f"segments.{segment}.stage_slas.{stage}: a closed stage has no SLA"
                    )
        for field, value, choices in (
            ("defaults.segment", self.defaults.segment, self.segments),
            ("defaults.tier", self.defaults.tier, self.tiers),
            ("defaults.role", self.defaults.role, self.roles),
        ):
            if value not in choices:
                raise ValueError(f"{field}: {value!r} is not one of {', '.join(choices)}")
        return self
