"""record_activities: consumes `activities` (one JSON array of rows per message, key = partition).

Emits: late events (older than watermark - allowed lateness) to `activities.dlq`.
Side effects: dedups on event_id, updates stage history and watermark tables, and writes
stage visits, opportunity state and the activity rows (touch_counts follows by MV) to ClickHouse
before the message is acknowledged; each insert carries a token of topic/partition/offset.
"""

from __future__ import annotations

import orjson

from touchline.settings import get_settings
from touchline.streams import progress, writer
from touchline.streams.app import app
from touchline.streams.recording import PartitionWindows, record_batch
from touchline.streams.tables import stage_history_by_opportunity, watermark_by_partition
from touchline.streams.topics import activity_topic, dead_letter_topic

windows = PartitionWindows()


@app.agent(activity_topic)
async def record_activities(stream):  # noqa: ANN001, D103
    rules = get_settings().pipeline
    async for event in stream.events():
        msg = event.message
        wm_key = str(msg.partition)
        watermark = watermark_by_partition[wm_key]
        cutoff = watermark - rules.allowed_lateness_s * 1000 if watermark else None
        window = await windows.get(msg.partition, cutoff)
        result = record_batch(
            orjson.loads(msg.value), window, watermark, rules,
            topic=msg.topic, partition=msg.partition, offset=msg.offset,
            stage_history=stage_history_by_opportunity,
        )
        await writer.write(result.write, "insert")
        if result.watermark > watermark:
            watermark_by_partition[wm_key] = result.watermark
        window.evict_before(result.watermark - rules.allowed_lateness_s * 1000)
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
