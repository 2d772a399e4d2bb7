"""Every topic, declared once. Values are raw bytes: agents parse them at the edge.

- raw_activity_topic ("activities.raw"): canonical events from outside, one JSON event per
  message or a batch (JSONL, or a JSON array).
- activity_topic ("activities"): validated, normalised rows, one JSON array of rows per message,
  all rows of one message on the partition of their account (crc32(tenant|account) % N).
- dead_letter_topic ("activities.dlq"): DeadLetter envelopes (schemas/dead_letter.py).
- backfill_topic ("activities.backfill"): history loaded with `touchline ingest`, shaped as
  raw_activity_topic; its own lane so that it never queues in front of live events.
- vendor_topics ("raw.<vendor>"): webhook Envelopes (schemas/vendors/envelope.py) written by
  `touchline serve`, one topic per vendor in settings.SOURCES.

touchline/stack/topics_admin.py creates every one of them (and the table changelogs).
"""

from __future__ import annotations

from touchline.settings import SOURCES, get_settings
from touchline.streams.app import app

_settings = get_settings()
_kafka = _settings.kafka

raw_activity_topic = app.topic(
    _kafka.raw_topic, value_serializer="raw", key_serializer="raw", partitions=_kafka.partitions
)
activity_topic = app.topic(
    _kafka.activities_topic,
    value_serializer="raw",
    key_serializer="raw",
    partitions=_kafka.partitions,
)
dead_letter_topic = app.topic(
    _kafka.dlq_topic, value_serializer="raw", key_serializer="raw", partitions=_kafka.partitions
)
backfill_topic = app.topic(
    _kafka.backfill_topic, value_serializer="raw", key_serializer="raw",
    partitions=_kafka.partitions,
)

vendor_topics = {
    source: app.topic(_settings.webhooks.raw_topic(source), value_serializer="raw",
                      key_serializer="raw", partitions=_kafka.partitions)
    for source in SOURCES
}
