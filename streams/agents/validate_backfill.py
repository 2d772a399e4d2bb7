"""validate_backfill: consumes activities.backfill (history from `touchline ingest`, any age).

Does for history what validate_activity does for live events (streams/validate_batch.py), in a
lane of its own: a year of history never queues in front of live events on `activities.raw`,
its batches are small (`pipeline.backfill_batch_messages`), and its ClickHouse work waits
behind every live write (streams/writer.py `background`), so a backfill keeps a live batch
waiting for one write at most. Old events are deduplicated against the stored rows
(streams/recording.py), stage visits re-derived from each opportunity's stored history.

Emits: rows for other partitions to `activities`, dead letters to `activities.dlq`.
Side effects: the rows' inserts; the batch is acknowledged only after they are durable.
"""

from __future__ import annotations

from touchline.settings import get_settings
from touchline.streams import writer
from touchline.streams.app import app
from touchline.streams.topics import backfill_topic
from touchline.streams.validate_batch import validate_and_record


@app.agent(backfill_topic, concurrency=1)
async def validate_backfill(stream):  # noqa: D103
    settings = get_settings()
    rules = settings.pipeline
    async for events in stream.take_events(rules.backfill_batch_messages,
                                           within=rules.batch_seconds):
        with writer.background():
            await validate_and_record([event.message for event in events], settings)
