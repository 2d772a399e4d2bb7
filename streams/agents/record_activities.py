"""record_activities: consumes `activities` (one JSON array of rows per message, key = partition).

Emits: late events (older than watermark - allowed lateness) to `activities.dlq`.
Side effects: dedups on event_id, updates stage history and watermark tables, and writes
stage visits, opportunity state and the activity rows (touch_counts follows by MV) to ClickHouse
before the messages are acknowledged. Messages are taken in batches (`take_events`) and the
whole batch is written with one insert per table (an insert costs ~40 ms whatever its size on
the embedded engine); each insert's token names the topic and the partition/offset ranges of
the batch, so a retry of the same batch is dropped by ClickHouse.
"""

from __future__ import annotations

import weakref

import orjson
from faust.streams import _current_event

from touchline.settings import get_settings
from touchline.streams import progress, writer
from touchline.streams.app import app
from touchline.streams.recording import BatchResult, PartitionWindows, record_batch
from touchline.streams.tables import stage_history_by_opportunity, watermark_by_partition
from touchline.streams.topics import activity_topic, dead_letter_topic

windows = PartitionWindows()

#: `activities` messages (up to 1,500 rows each) written together, and the longest wait
RECORD_BATCH_MESSAGES = 64
RECORD_BATCH_SECONDS = 0.25


def _as_current(event: object) -> None:
    """Make `event` the current event of this agent's task only (Faust tables read it).

    Only the context variable: the stream's own `current_event` attribute is what the take
    buffer reads while filling the next batch, so it must not be touched here.
    """
    _current_event.set(weakref.ref(event))


@app.agent(activity_topic)
async def record_activities(stream):  # noqa: ANN001, D103
    rules = get_settings().pipeline
    lateness = rules.allowed_lateness_s * 1000
    async for events in stream.take_events(RECORD_BATCH_MESSAGES, within=RECORD_BATCH_SECONDS):
        watermarks: dict[int, int] = {}
        last_event: dict[int, object] = {}
        results: list[tuple[object, BatchResult]] = []
        for event in events:
            msg = event.message
            # table writes go to the changelog partition of the event being processed
            _as_current(event)
            last_event[msg.partition] = event
            watermark = watermarks.get(msg.partition)
            if watermark is None:
                watermark = watermark_by_partition[str(msg.partition)]
            cutoff = watermark - lateness if watermark else None
            window = await windows.get(msg.partition, cutoff)
            result = record_batch(
                orjson.loads(msg.value), window, watermark, rules,
                topic=msg.topic, partition=msg.partition, offset=msg.offset,
                stage_history=stage_history_by_opportunity,
            )
            watermarks[msg.partition] = max(watermark, result.watermark)
            results.append((msg, result))
        combined = BatchResult.combine([r for _, r in results])
        await writer.write(combined.write, "insert")
        for partition, watermark in watermarks.items():  # only after the rows are durable
            if watermark > watermark_by_partition[str(partition)]:
                _as_current(last_event[partition])
                watermark_by_partition[str(partition)] = watermark
            windows.evict(partition, watermark - lateness)
        for msg, result in results:
            for dead in result.dead_letters:
                await dead_letter_topic.send(value=dead.model_dump_json().encode())
            progress.count_recorded(
                msg.topic, msg.partition, msg.offset, events_in=result.events_in,
                accepted=len(result.rows), duplicates=result.duplicates,
                rejected=len(result.dead_letters), max_event_ms=result.watermark,
            )


@app.on_partitions_revoked.connect
async def forget_revoked(app, revoked, **kwargs) -> None:  # noqa: ANN001
    """A partition that moves away must be reloaded from ClickHouse if it ever comes back."""
    for tp in revoked:
        if tp.topic == activity_topic.get_topic_name():
            windows.forget(tp.partition)
