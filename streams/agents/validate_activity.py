"""validate_activity: consumes activities.raw (any key; one event, JSONL or a JSON array).

Validates every event. Rows of the raw message's own partition (the account's partition,
crc32(tenant|account) % N: touchline's producers route every event there) are recorded right
here (streams/recorder.py: dedup, lateness, stage history, ClickHouse), so the common path
crosses the broker once. Rows of other partitions (a producer that does not route by account)
are forwarded as one message of rows per partition to `activities`, recorded by
record_activities on the worker that owns that partition. This relies on `activities.raw` and
`activities` having the same partition count (Faust then assigns partition N of both to one
worker); `touchline topics` creates them so.

Emits: rows for other partitions to `activities`, a DeadLetter per rejected event to
`activities.dlq`.
Side effects: the local rows' inserts; the batch is acknowledged only after every send is
confirmed by the broker and every local row is durable in ClickHouse.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from touchline.settings import get_settings
from touchline.streams import bulk_intake, progress
from touchline.streams.app import app
from touchline.streams.recorder import record_messages
from touchline.streams.topics import activity_topic, dead_letter_topic, raw_activity_topic
from touchline.streams.validation import Validated, validate_message
from touchline.streams.writer import now_ms

#: rows per `activities` message: ~0.5 KB each, well under the broker's 1 MB default limit
ROWS_PER_MESSAGE = 1500


def chunks(rows: list, size: int) -> list[list]:
    """Consecutive slices of at most `size` rows (order kept)."""
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _origin(headers: object) -> str:
    for key, value in (headers.items() if isinstance(headers, dict) else headers or ()):
        if key == "touchline-origin":
            return value.decode() if isinstance(value, bytes) else str(value)
    return ""


@app.agent(raw_activity_topic, concurrency=get_settings().pipeline.concurrency)
async def validate_activity(stream):  # noqa: D103
    settings = get_settings()
    partitions, rules = settings.kafka.partitions, settings.pipeline
    stage = activity_topic.get_topic_name()
    # each fetch of the raw topic arrives as one list (streams/bulk_intake.py); iterating the
    # stream's channel once subscribes the topic, as `async for` over the stream would
    bulk_intake.install()
    intake = bulk_intake.register(app, raw_activity_topic.get_topic_name(),
                                  max_waiting_bytes=rules.max_message_bytes * 4)
    aiter(stream.channel)
    async for messages in intake.batches(rules.batch_messages, rules.batch_events,
                                         within=rules.batch_seconds):
        out, now = Validated(), now_ms()
        local: list[tuple[Any, list[dict[str, Any]]]] = []
        counts = []
        for msg in messages:
            one = Validated()
            validate_message(
                msg.value, one, topic=msg.topic, partition=msg.partition, offset=msg.offset,
                origin=_origin(msg.headers), partitions=partitions, rules=rules, now_ms=now,
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
        sends += await record_messages(local, rules, stage=stage)
        await asyncio.gather(*sends)  # durable before these raw messages are acknowledged
        for msg, events_in, rejected in counts:
            progress.count_validated(msg.topic, msg.partition, msg.offset,
                                     events_in=events_in, rejected=rejected)
        bulk_intake.ack(app, messages)
