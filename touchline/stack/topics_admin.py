"""Create the pipeline's topics with their partition counts before any worker starts.

An auto-created topic gets the broker's default partition count, and Faust refuses a source
topic whose count differs from its table changelogs (PartitionsMismatch), as on real Kafka.
"""

from __future__ import annotations

import contextlib

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from touchline.errors import BrokerUnreachable
from touchline.settings import SOURCES, Settings
from touchline.streams.tables import CHANGELOG_TABLES

#: how long the CLI's Kafka clients (admin, producer) wait for a first answer: a broker that is
#: there answers within a second or two, also while it starts; kafka-python waits 30 s
BOOTSTRAP_TIMEOUT_MS = 10_000


def pipeline_topics(settings: Settings) -> dict[str, dict[str, str]]:
    """Topic name -> configs, for every topic touchline uses."""
    k = settings.kafka
    short = {"retention.ms": str(k.retention_ms)}
    topics = {k.raw_topic: short, k.backfill_topic: short, k.activities_topic: short,
              k.dlq_topic: {"retention.ms": str(7 * 24 * 3600 * 1000)}}
    for source in SOURCES:
        topics[settings.webhooks.raw_topic(source)] = short
    for table in CHANGELOG_TABLES:
        topics[f"{settings.faust_app_id}-{table}-changelog"] = {"cleanup.policy": "compact"}
    return topics


def admin(settings: Settings) -> KafkaAdminClient:
    """An admin client for the configured broker; BrokerUnreachable if none answers."""
    try:
        return KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap,
                                client_id="touchline-admin", request_timeout_ms=10_000,
                                bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
    except KafkaTimeoutError as exc:
        raise BrokerUnreachable(settings.kafka.bootstrap) from exc


def ensure_topics(settings: Settings, extra: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Create missing topics; returns the names created now."""
    wanted = {**pipeline_topics(settings), **(extra or {})}
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        new = [
            NewTopic(name, settings.kafka.partitions, settings.kafka.replication_factor,
                     topic_configs=configs)
            for name, configs in wanted.items() if name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                client.create_topics(new)
        return [t.name for t in new]
    finally:
        client.close()


def delete_topics(settings: Settings, names: list[str]) -> None:
    """Delete topics (tests clean up after themselves; the embedded broker keeps all in RAM)."""
    try:
        client = admin(settings)
    except (KafkaError, BrokerUnreachable):  # broker already gone: nothing to clean
        return
    try:
        client.delete_topics(names)
    except KafkaError:
        pass
    finally:
        client.close()
