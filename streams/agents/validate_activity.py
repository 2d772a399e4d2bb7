"""validate_activity: consumes activities.raw (any key; one event, JSONL or a JSON array).

Emits: one message of normalised rows per activities partition (rows of one account stay on
one partition) to `activities`, and a DeadLetter per rejected event to `activities.dlq`.
Side effects: none; the batch is acknowledged only after every send is confirmed by the broker.
"""

from __future__ import annotations

import asyncio

import orjson

from touchline.settings import get_settings
from touchline.streams import progress
from touchline.streams.app import app
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


@app.agent(raw_activity_topic)
async def validate_activity(stream):  # noqa: ANN001, D103
    settings = get_settings()
    partitions = settings.kafka.partitions
    async for events in stream.take_events(
        settings.pipeline.batch_messages, within=settings.pipeline.batch_seconds
    ):
        out, now = Validated(), now_ms()
        for event in events:
            msg = event.message
            validate_message(
                msg.value, out, topic=msg.topic, partition=msg.partition, offset=msg.offset,
                origin=_origin(msg.headers), partitions=partitions, rules=settings.pipeline,
                now_ms=now,
            )
        sends = [
            await activity_topic.send(key=str(p).encode(), value=orjson.dumps(chunk), partition=p)
            for p, rows in out.rows_by_partition.items()
            for chunk in chunks(rows, ROWS_PER_MESSAGE)
        ]
        sends += [
            await dead_letter_topic.send(value=dl.model_dump_json().encode())
            for dl in out.dead_letters
        ]
        await asyncio.gather(*sends)  # durable before these raw messages are acknowledged
        progress.count_validated(events, out)
