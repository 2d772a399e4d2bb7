"""Validate one raw message's events: good rows per activities partition, and dead letters.

Pure (no I/O), so the agent stays small and this is unit-testable without a broker.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from touchline.schemas.activity import activity_adapter
from touchline.schemas.activity_row import accepted_row
from touchline.schemas.dead_letter import DeadLetter
from touchline.schemas.errors import describe
from touchline.schemas.plan import format_duration
from touchline.settings import PipelineSettings
from touchline.streams.partitioning import partition_for
from touchline.streams.raw_batches import UnsplittableMessage, split_events


@dataclass
class Validated:
    """What one or more raw messages became."""

    rows_by_partition: dict[int, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    dead_letters: list[DeadLetter] = field(default_factory=list)
    events_in: int = 0


def _identity(data: bytes) -> dict[str, str]:
    """Tenant and event id of an event that failed validation, when it still names them.

    A tenant reader's row policy shows dead letters of that tenant only: a rejected event
    that says whose it is must keep its tenant.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(doc, dict):
        return {}
    return {key: doc[key].strip()[:256] for key in ("tenant", "event_id")
            if isinstance(doc.get(key), str)}


def line_origins(origin: str) -> Callable[[int], str]:
    """The origin a line's dead letter and row carry, such that origin + line_no = file line.

    `touchline-origin` is `<run>:<first line>` for a message of consecutive file lines, or
    `<run>:@<line>,<line>,...` for a message of lines routed to one partition (their file
    lines are not consecutive): each line then gets `<run>:<file line - line_no>` (may be
    negative), so `ingest --wait` finds every line as `first + line_no` in both cases while
    line_no stays the line within the message (part of a dead letter's identity).
    """
    run, sep, listed = origin.partition(":@")
    if not sep:
        return lambda line_no: origin
    file_lines = [int(x) for x in listed.split(",")]
    return lambda line_no: (
        f"{run}:{file_lines[line_no] - line_no}" if line_no < len(file_lines) else origin
    )


def validate_message(
    raw: bytes,
    out: Validated,
    *,
    topic: str,
    partition: int,
    offset: int,
    origin: str,
    partitions: int,
    rules: PipelineSettings,
    now_ms: int,
) -> None:
    """Add the message's events to `out` (rows by target partition, or dead letters)."""
    where = {"source_topic": topic, "partition": partition, "offset": offset, "origin": origin}
    locate = line_origins(origin) if origin else None
    if len(raw) > rules.max_message_bytes:
        out.events_in += 1
        out.dead_letters.append(
            DeadLetter.of(
                raw[:65536], "too_large",
                f"message is {len(raw)} bytes; the limit is {rules.max_message_bytes} "
                "(pipeline.max_message_bytes): split it into smaller batches",
                **where,
            )
        )
        return
    try:  # one JSON object on one line (one event per Kafka message) needs no splitting
        lines = [(0, raw)] if raw[:1] == b"{" and b"\n" not in raw else list(split_events(raw))
    except UnsplittableMessage as exc:
        out.events_in += 1
        out.dead_letters.append(DeadLetter.of(raw, "invalid_json", str(exc), **where))
        return
    max_future = now_ms + rules.max_future_skew_s * 1000
    max_event = rules.max_event_bytes

    def at(line_no: int) -> dict[str, Any]:
        """Where a dead letter's line came from (built only for a rejected line)."""
        here = dict(where, line_no=line_no)
        if locate is not None:
            here["origin"] = locate(line_no)
        return here

    for line_no, data in lines:
        out.events_in += 1
        if len(data) > max_event:
            out.dead_letters.append(
                DeadLetter.of(
                    data[:65536], "too_large",
                    f"event is {len(data)} bytes; the limit is {max_event}",
                    **at(line_no),
                )
            )
            continue
        try:
            event = activity_adapter.validate_json(data)
        except ValidationError as exc:
            reason, error = describe(exc)
            out.dead_letters.append(
                DeadLetter.of(data, reason, error, **at(line_no), **_identity(data)))
            continue
        row = accepted_row(event, data)
        if row["occurred_at"] > max_future:
            out.dead_letters.append(
                DeadLetter.of(
                    data, "future",
                    f"occurred_at {event.occurred_at.isoformat()} is "
                    f"{format_duration((row['occurred_at'] - now_ms) / 1000)} ahead of the "
                    f"clock (at most {format_duration(rules.max_future_skew_s)}, "
                    "pipeline.max_future_skew_s): check the source's clock and timezone",
                    event_id=event.event_id, tenant=event.tenant, **at(line_no),
                )
            )
            continue
        row["kafka_offset"] = offset
        if locate is not None:  # lets `ingest --wait` match a later `late` reject to its line
            row["_origin"], row["_line"] = locate(line_no), line_no
        target = partition_for(row["tenant"], row["account_id"], partitions)
        out.rows_by_partition[target].append(row)
