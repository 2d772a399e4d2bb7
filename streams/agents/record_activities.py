"""record_activities: consumes `activities` (one JSON array of rows per message, key = partition).

Only rows that validation could not record in place arrive here: events of a raw message that
belong to another partition than the raw message's own (a producer that does not route by
account, e.g. a vendor batch webhook). touchline's own producers route, so this topic is
normally quiet.

Emits: nothing (every row here was valid; events of any age are accepted or duplicates).
Side effects: dedups on event_id, updates the stage-history table, and writes
stage visits, opportunity state and the activity rows (touch_counts follows by MV) to ClickHouse
before the messages are acknowledged (streams/recorder.py). Messages are taken in batches
(`take_events`) and the whole batch is written with one insert per table; each insert's token
names the topic and the partition/offset ranges of the batch, so a retried batch is dropped.
"""

from __future__ import annotations

import orjson

from touchline.settings import get_settings
from touchline.streams.app import app
from touchline.streams.recorder import PartitionRows, record_messages, stage_index, windows
from touchline.streams.topics import activity_topic, raw_activity_topic

#: `activities` messages (up to 1,500 rows each) written together, and the longest wait
RECORD_BATCH_MESSAGES = 64
RECORD_BATCH_SECONDS = 0.25


@app.agent(activity_topic)
async def record_activities(stream):  # noqa: D103
    rules = get_settings().pipeline
    stage = activity_topic.get_topic_name()
    async for events in stream.take_events(RECORD_BATCH_MESSAGES, within=RECORD_BATCH_SECONDS):
        items = [PartitionRows(event, _rows_of(event.message), event.message.offset)
                 for event in events]
        await record_messages(items, rules, stage=stage)


def _rows_of(message) -> list[dict]:
    """The rows of one `activities` message, each at that message's offset."""
    rows = orjson.loads(message.value)
    for row in rows:
        row["kafka_offset"] = message.offset
    return rows


@app.on_partitions_revoked.connect
async def forget_revoked(app, revoked, **kwargs) -> None:
    """A partition that moves away must be reloaded from ClickHouse if it ever comes back."""
    ours = {activity_topic.get_topic_name(), raw_activity_topic.get_topic_name()}
    for tp in revoked:
        if tp.topic in ours:
            windows.forget(tp.partition)
            stage_index.forget(tp.partition)
