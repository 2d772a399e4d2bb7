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
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from touchline.schemas.dead_letter import DeadLetter
from touchline.settings import Settings
from touchline.streams import progress
from touchline.streams.app import app
from touchline.streams.recorder import PartitionRows, record_messages
from touchline.streams.topics import activity_topic, dead_letter_topic
from touchline.streams.validation import Validated, validate_message
from touchline.streams.writer import now_ms

#: rows per `activities` message: ~0.5 KB each, well under the broker's 1 MB default limit
ROWS_PER_MESSAGE = 1500
#: events validated between two turns of the event loop: a batch of 100,000 events takes a
#: second or more to validate on a busy machine, and offset commits, the other batch in
#: flight and the fetches' hand-over must not wait for all of it (decision 0004)
EVENTS_PER_TURN = 2000


def chunks(rows: list, size: int) -> list[list]:
    """Consecutive slices of at most `size` rows (order kept)."""
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def origin_of(headers: object) -> str:
    """The `touchline-origin` header (file run and lines) of a message, '' if none."""
    for key, value in (headers.items() if isinstance(headers, dict) else headers or ()):
        if key == "touchline-origin":
            return value.decode() if isinstance(value, bytes) else str(value)
    return ""


def _text(value: object) -> str:
    """A row's `_event_json` (bytes) as the text an `activities` message carries."""
    if isinstance(value, bytes):
        return value.decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _same(message: Any) -> Any:
    return message


async def validate_and_record(messages: Sequence[Any], settings: Settings, *,
                              as_message: Callable[[Any], Any] = _same) -> None:
    """Validate and record one batch of raw messages (in offset order per partition).

    A message is a Faust message, or an aiokafka record that `as_message` turns into one
    (streams/bulk_intake.py): it is only done for the message whose event table writes read.
    The messages of each partition are validated into one `Validated` and their local rows
    recorded as one item (each row keeps its message's offset), so the per-message cost is
    only the validation of its events.
    """
    by_partition, dead = await validate_messages(messages, settings)
    rules = settings.pipeline
    items: list[PartitionRows] = []
    forward: dict[int, list[dict[str, Any]]] = {}
    for p, part in by_partition.items():
        out = part.validated
        rows = out.rows_by_partition.pop(p, None)
        if rows:  # the recorder writes tables in the context of the last such message
            msg = as_message(part.last_recorded)
            items.append(PartitionRows(app.create_event(msg.key, msg.value, msg.headers, msg),
                                       rows, part.first_recorded, part.recorded))
        for target, rows in out.rows_by_partition.items():
            forward.setdefault(target, []).extend(rows)
    sends = [
        await activity_topic.send(key=str(p).encode(), value=orjson.dumps(chunk, default=_text),
                                  partition=p)
        for p, rows in forward.items()
        for chunk in chunks(rows, ROWS_PER_MESSAGE)
    ]
    sends += [
        await dead_letter_topic.send(value=dl.model_dump_json().encode())
        for dl in dead
    ]
    await record_messages(items, rules, stage=activity_topic.get_topic_name())
    await asyncio.gather(*sends)  # durable before these raw messages are acknowledged
    for part in by_partition.values():
        last, out = part.last, part.validated
        progress.count_validated(last.topic, last.partition, last.offset,
                                 events_in=out.events_in, rejected=part.rejected,
                                 messages=part.messages)


async def validate_messages(messages: Sequence[Any], settings: Settings
                            ) -> tuple[dict[int, _Partition], list[DeadLetter]]:
    """Each partition's messages validated into one `Validated`, and the dead letters.

    The event loop gets a turn every `EVENTS_PER_TURN` events, so the size of a batch (the
    size of its inserts) does not decide how long commits and the other batch wait.
    """
    partitions, rules = settings.kafka.partitions, settings.pipeline
    now = now_ms()
    by_partition: dict[int, _Partition] = {}
    dead: list[DeadLetter] = []  # in message order, of every partition
    events, turn_at = 0, EVENTS_PER_TURN
    for msg in messages:
        if events >= turn_at:
            await asyncio.sleep(0)
            turn_at = events + EVENTS_PER_TURN
        part = by_partition.get(msg.partition)
        if part is None:
            part = by_partition[msg.partition] = _Partition(msg, dead)
        out = part.validated
        local = out.rows_by_partition.get(msg.partition)
        before, rejected, events_before = (len(local) if local else 0), len(dead), out.events_in
        validate_message(
            msg.value, out, topic=msg.topic, partition=msg.partition, offset=msg.offset,
            origin=origin_of(msg.headers), partitions=partitions, rules=rules, now_ms=now,
        )
        local = out.rows_by_partition.get(msg.partition)
        if local and len(local) > before:
            if not part.recorded:
                part.first_recorded = msg.offset
            part.recorded += 1
            part.last_recorded = msg
        part.last, part.messages = msg, part.messages + 1
        part.rejected += len(dead) - rejected
        events += out.events_in - events_before
    return by_partition, dead


class _Partition:
    """What one partition's messages of a batch became."""

    __slots__ = ("validated", "last", "messages", "rejected", "recorded", "first_recorded",
                 "last_recorded")

    def __init__(self, first: Any, dead_letters: list[DeadLetter]) -> None:
        self.validated = Validated(dead_letters=dead_letters)
        self.last, self.messages, self.rejected = first, 0, 0
        self.recorded, self.first_recorded, self.last_recorded = 0, first.offset, first
