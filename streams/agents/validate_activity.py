"""validate_activity: consumes activities.raw (any key; one event, JSONL or a JSON array).

Validates every event (streams/validate_batch.py, shared with validate_backfill). Rows of the
raw message's own partition (the account's partition, crc32(tenant|account) % N: touchline's
producers route every event there) are recorded right here (streams/recorder.py: dedup, stage
history, ClickHouse), so the common path crosses the broker once. Rows of other partitions (a
producer that does not route by account) are forwarded as one message of rows per partition to
`activities`, recorded by record_activities on the worker that owns that partition. This
relies on `activities.raw` and `activities` having the same partition count (Faust then assigns
partition N of both to one worker); `touchline topics` creates them so.

Emits: rows for other partitions to `activities`, a DeadLetter per rejected event to
`activities.dlq`.
Side effects: the local rows' inserts; the batch is acknowledged only after every send is
confirmed by the broker and every local row is durable in ClickHouse.
"""

from __future__ import annotations

from touchline.settings import get_settings
from touchline.streams import bulk_intake
from touchline.streams.app import app
from touchline.streams.topics import raw_activity_topic
from touchline.streams.validate_batch import validate_and_record


@app.agent(raw_activity_topic, concurrency=get_settings().pipeline.concurrency)
async def validate_activity(stream):  # noqa: D103
    settings = get_settings()
    rules = settings.pipeline
    # each fetch of the raw topic arrives as runs of records (streams/bulk_intake.py);
    # iterating the stream's channel once subscribes the topic, as `async for` over the
    # stream would
    bulk_intake.install()
    intake = bulk_intake.register(app, raw_activity_topic.get_topic_name(),
                                  max_waiting_bytes=rules.max_message_bytes * 4)
    aiter(stream.channel)
    async for runs in intake.batches(rules.batch_messages, rules.batch_events,
                                     within=rules.batch_seconds):
        await validate_and_record(list(bulk_intake.records(runs)), settings,
                                  as_message=bulk_intake.faust_message(app))
        bulk_intake.ack(app, runs)
