"""Turn pydantic validation errors into one readable line that names field and reason."""

from __future__ import annotations

from pydantic import ValidationError

from touchline.schemas.activity import EVENT_TYPES
from touchline.schemas.dead_letter import Reason


def describe(exc: ValidationError) -> tuple[Reason, str]:
    """Return (reason code, 'field: reason; field: reason') for a failed event."""
    parts: list[str] = []
    reason: Reason = "validation"
    for err in exc.errors(include_url=False, include_input=False)[:10]:
        loc = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p)) or "(event)"
        if err["type"] == "json_invalid":
            reason = "invalid_json"
        elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            reason = "unknown_type"
            loc = "type"
        msg = err["msg"]
        if err["type"] == "datetime_type":  # strict: a number, null, ... instead of a string
            msg += " given as an RFC 3339 string with an offset, e.g. 2026-11-23T09:00:00Z"
        parts.append(f"{loc}: {msg}")
    return reason, "; ".join(parts)


def _is_union_tag(part: object) -> bool:
    return part in EVENT_TYPES
