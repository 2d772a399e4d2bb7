"""One batch of raw messages: validate, forward rows of other partitions, record, dead-letter.

The body of the two agents that read raw events: `validate_activity` (live, `activities.raw`)
and `validate_backfill` (history loaded with `touchline ingest`, `activities.backfill`).
Rows of a message's own partition (the account's partition, crc32(tenant|account) % N:
touchline's producers route every event there) are recorded right here
(streams/recorder.py), so the common path crosses the broker once. Rows of other partitions
(a producer that does not route by account) are forwarded as one message of rows per
partition to `activities`. Returns once every send is confirmed by the broker and every local
row is durable: the caller acknowledges the batch after that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from touchline.settings import Settings
from touchline.streams import progress
from touchline.streams.app import app
from touchline.streams.recorder import record_messages
from touchline.streams.topics import activity_topic, dead_letter_topic
from touchline.streams.validation import Validated, validate_message
from touchline.streams.writer import now_ms

#: rows per `activities` message: ~0.5 KB each, well under the broker's 1 MB default limit
ROWS_PER_MESSAGE = 1500


def chunks(rows: list, size: int) -> list[list]:
    """Consecutive slices of at most `size` rows (order kept)."""
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def origin_of(headers: object) -> str:
    """The `touchline-origin` header (file run and lines) of a message, '' if none."""
    for key, value in (headers.items() if isinstance(headers, dict) else headers or ()):
        if key == "touchline-origin":
            return value.decode() if isinstance(value, bytes) else str(value)
    return ""


async def validate_and_record(messages: Sequence[Any], settings: Settings) -> None:
    """Validate and record one batch of raw messages (Faust messages, in offset order)."""
    partitions, rules = settings.kafka.partitions, settings.pipeline
    out, now = Validated(), now_ms()
    local: list[tuple[Any, list[dict[str, Any]]]] = []
    counts = []
    for msg in messages:
        one = Validated()
        validate_message(
            msg.value, one, topic=msg.topic, partition=msg.partition, offset=msg.offset,
            origin=origin_of(msg.headers), partitions=partitions, rules=rules, now_ms=now,
        )
        rows = one.rows_by_partition.pop(msg.partition, None)
        if rows:  # the recorder writes tables in the context of the row's message
            local.append((app.create_event(msg.key, msg.value, msg.headers, msg), rows))
        for p, forward in one.rows_by_partition.items():
            out.rows_by_partition[p] += forward
        out.dead_letters += one.dead_letters
        counts.append((msg, one.events_in, len(one.dead_letters)))
    sends = [
        await activity_topic.send(key=str(p).encode(), value=orjson.dumps(chunk), partition=p)
        for p, rows in out.rows_by_partition.items()
        for chunk in chunks(rows, ROWS_PER_MESSAGE)
    ]
    sends += [
        await dead_letter_topic.send(value=dl.model_dump_json().encode())
        for dl in out.dead_letters
    ]
    await record_messages(local, rules, stage=activity_topic.get_topic_name())
    await asyncio.gather(*sends)  # durable before these raw messages are acknowledged
    for msg, events_in, rejected in counts:
        progress.count_validated(msg.topic, msg.partition, msg.offset,
                                 events_in=events_in, rejected=rejected)
