"""The loop of the map_<vendor> agents (streams/agents/map_vendor_events.py).

Each raw.<vendor> message (an Envelope) is mapped with streams/vendor_mapping.py; the canonical
events go to activities.raw as one JSONL batch (same key as the raw message), unmappable payloads
to activities.dlq as DeadLetters. A batch of raw messages is acknowledged only after every send
is confirmed. Skipped vendor events and unknown identities are counted in `stats` and logged,
and every raw.<source> partition reports to `pipeline_metrics` like the other stages:
messages, events_in (vendor events seen), accepted (canonical events emitted), rejected (dead
letters), so skipped = events_in - accepted - rejected, and its lag.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime
from functools import cache
from typing import Any

import orjson

from touchline.schemas.vendors.identities import IdentityResolver
from touchline.schemas.vendors.stage_map import StageMap
from touchline.settings import get_settings
from touchline.streams import progress
from touchline.streams.partitioning import event_partition
from touchline.streams.vendor_mapping import map_message

log = logging.getLogger(__name__)

#: per source: messages, events, dead_letters, skipped:<kind>, unknown_identity:<id>
stats: dict[str, Counter[str]] = {}
_resolver: IdentityResolver | None = None


def resolver() -> IdentityResolver:
    """The identity map merged with the org file, loaded once on first use.

    An absent or invalid file is logged and left out: its identities stay unknown.
    """
    global _resolver
    if _resolver is None:
        from touchline.org.identity import load_resolver

        settings = get_settings()
        _resolver = load_resolver(settings.webhooks.identity_map_path, settings.org.path)
    return _resolver


@cache
def stage_map() -> StageMap:
    """The vendor stage map: the defaults plus `webhooks.stage_map_path`, loaded once.

    A file that cannot be read stops the agent with its one-line reason: mapping with the
    defaults alone would record the CRM's stages under names the user said were wrong.
    """
    return StageMap.load(get_settings().webhooks.stage_map_path)


async def forward_mapped(source: str, stream: Any) -> None:
    """The agent body: map every raw message of `stream`, forward events and dead letters."""
    from touchline.streams.topics import dead_letter_topic, raw_activity_topic

    settings = get_settings()
    partitions = settings.kafka.partitions
    tenant = settings.webhooks.tenant or settings.tenant
    count = stats.setdefault(source, Counter())
    async for events in stream.take_events(500, within=settings.pipeline.batch_seconds):
        sends = []
        for event in events:
            msg = event.message
            out = map_message(
                msg.value, resolver(), tenant,
                source_topic=msg.topic, partition=msg.partition, offset=msg.offset,
                stages=stage_map(),
            )
            _report(msg, out)
            count["messages"] += 1
            count["events"] += len(out.events)
            count["dead_letters"] += len(out.dead_letters)
            count.update({f"skipped:{k}": v for k, v in out.skipped.items()})
            count.update({f"unknown_identity:{k}": v for k, v in out.unknown_identities.items()})
            if out.unknown_identities:
                log.info("%s: unknown identities kept: %s", source, sorted(out.unknown_identities))
            origin = f"webhook:{source}:{msg.partition}:{msg.offset}".encode()
            for partition, group in by_account_partition(out.events, partitions).items():
                # one message per account partition: the worker records it where it validates
                sends.append(await raw_activity_topic.send(
                    key=msg.key, value=b"\n".join(orjson.dumps(e) for e in group),
                    partition=partition, headers={"touchline-origin": origin},
                ))
            for dead_letter in out.dead_letters:
                sends.append(
                    await dead_letter_topic.send(value=dead_letter.model_dump_json().encode())
                )
        await asyncio.gather(*sends)  # durable before these raw messages are acknowledged


def by_account_partition(events: list[dict[str, Any]],
                         partitions: int) -> dict[int, list[dict[str, Any]]]:
    """Canonical events grouped by their account's partition (as validation computes it)."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        groups.setdefault(event_partition(event, partitions), []).append(event)
    return groups


def _report(msg: Any, out: Any) -> None:
    """Progress of one raw message, flushed to pipeline_metrics by report_progress."""
    tp = (msg.topic, msg.partition)
    counters = progress.pending[tp]
    counters["messages"] += 1
    counters["events_in"] += len(out.events) + sum(out.skipped.values()) + len(out.dead_letters)
    counters["accepted"] += len(out.events)
    counters["rejected"] += len(out.dead_letters)
    progress.processed(tp, msg.offset)
    times = [datetime.fromisoformat(e["occurred_at"]) for e in out.events]
    if times:
        latest = int(max(times).timestamp() * 1000)
        progress.event_time[tp] = max(progress.event_time.get(tp, 0), latest)
