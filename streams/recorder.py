"""Record messages of rows (dedup, lateness, stage history, one insert per table) in a worker.

Shared by the two agents that record: `validate_activity` records the rows of a raw message that
belong to the raw message's own partition (the common case: touchline's producers route each
event to its account's partition), `record_activities` records the rows that validation forwarded
through the `activities` topic. Both see the same per-partition state in this process (dedup
window, watermark, stage history): Faust assigns partition N of both topics to the same worker
(they are co-partitioned: same partition count, same consumer group).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from faust.streams import _current_event

from touchline.settings import PipelineSettings, get_settings
from touchline.streams import progress, stage_memory, writer
from touchline.streams.dedup import bucket_ms_for
from touchline.streams.dwell import before_kept, merge, split
from touchline.streams.recording import (
    BatchResult,
    TenantWindows,
    load_stored,
    old_rows,
    record_batch,
)
from touchline.streams.stage_memory import StageIndex
from touchline.streams.tables import stage_history_by_opportunity

_LATENESS_MS = get_settings().pipeline.allowed_lateness_s * 1000
windows = TenantWindows(_LATENESS_MS, bucket_ms_for(_LATENESS_MS),
                        in_flight=get_settings().pipeline.concurrency)
#: stage-history keys by partition, tenant and event time, for eviction (stage_memory.py)
stage_index = StageIndex(windows.bucket_ms)


def as_current(event: object) -> None:
    """Make `event` the current event of this agent's task only (Faust tables read it).

    Only the context variable: the stream's own `current_event` attribute is what the take
    buffer reads while filling the next batch, so it must not be touched here.
    """
    _current_event.set(weakref.ref(event))


def _missing_histories(partition: int, rows: list[dict[str, Any]]) -> set[str]:
    """Keys of opportunities these rows change whose history is not (all) in memory.

    That is: not in memory at all, or kept truncated (dwell.py) while a change sorts before
    its oldest kept change. Indexes a (re)assigned partition's histories first (recovered
    from the changelog).
    """
    history = stage_history_by_opportunity
    if not stage_index.indexed(partition):
        stage_memory.index_partition(stage_index, history, partition,
                                     get_settings().kafka.partitions)
    missing = set()
    for row in rows:
        if row["type"] == "stage_change":
            key = f"{row['tenant']}|{row['opportunity_id']}"
            kept = history.get(key) if key in history else None
            if kept is None or before_kept(kept, [row["occurred_at"], row["event_id"]]):
                missing.add(key)
    return missing


async def _read_back(old: list[dict[str, Any]],
                     missing: set[str]) -> tuple[set[str], dict[str, list[Any]]]:
    """Stored copies of a batch's old rows, and stored histories it needs: one query each.

    The histories are those of the opportunities it changes that are not in memory (evicted,
    or never loaded), whether or not a change says which stage it left (CRMs do not).
    """
    stored: set[str] = set()
    histories: dict[str, list[Any]] = {}
    if old:
        stored = await writer.write(lambda sink: load_stored(sink, old),
                                    "stored duplicate check")
    if missing:
        histories = await writer.write(
            lambda sink: stage_memory.load_histories(sink, missing), "stage history reload")
    return stored, histories


@dataclass
class PartitionRows:
    """Rows of consecutive messages of one partition, recorded as one item.

    `event` is the Faust event of the last of them: table writes go to its changelog
    partition (the same for every message of the partition). Each row carries its own
    message's `kafka_offset`; `first_offset` and the event's offset name the span (the
    insert token), `messages` how many messages the rows came from.
    """

    event: Any
    rows: list[dict[str, Any]]
    first_offset: int
    messages: int = 1


async def record_messages(items: Sequence[PartitionRows], rules: PipelineSettings, *,
                          stage: str) -> None:
    """Record each item in order with one insert per table.

    `stage` names the `activities` topic: the counters of this stage are reported under it
    whichever topic the rows came from. Window eviction runs only after the insert returned;
    the caller acknowledges the messages after that.
    """
    if not items:
        return
    lateness = rules.allowed_lateness_s * 1000
    history = stage_history_by_opportunity
    old: list[dict[str, Any]] = []
    missing_by_item: list[set[str]] = []
    for item in items:
        partition, rows = item.event.message.partition, item.rows
        tenant_windows = await windows.get(partition, {row["tenant"] for row in rows})
        old += old_rows(rows, tenant_windows, lateness)
        missing_by_item.append(_missing_histories(partition, rows))
    stored, histories = await _read_back(old, set().union(*missing_by_item))
    last_event: dict[int, object] = {}
    results: list[tuple[Any, BatchResult, PartitionRows]] = []
    for item, missing in zip(items, missing_by_item, strict=True):
        event, rows = item.event, item.rows
        msg = event.message
        # table writes go to the changelog partition of the event being processed
        as_current(event)
        last_event[msg.partition] = event
        for key in missing:
            if key not in histories:
                continue
            if key not in history:  # another batch may have loaded or started one meanwhile
                history[key] = histories[key]
            elif split(history[key])[0] is not None:  # truncated: the whole history, and
                history[key] = merge(histories[key], split(history[key])[1])[0]  # in flight
            stage_index.note(msg.partition, key, history[key][-1][0])
        result = record_batch(
            rows, await windows.get(msg.partition, ()), rules,
            topic=msg.topic, partition=msg.partition, offset=msg.offset,
            first_offset=item.first_offset, stored=stored,
            stage_history=history, stage_index=stage_index,
        )
        results.append((msg, result, item))
    combined = BatchResult.combine([r for _, r, _ in results])
    await writer.write(combined.write, "insert")
    for partition, event in last_event.items():  # only after the rows are durable
        as_current(event)
        windows.evict(partition)
        horizons = {tenant: window.watermark - lateness - stage_index.bucket_ms
                    for tenant, window in (await windows.get(partition, ())).items()}
        stage_memory.evict(stage_history_by_opportunity,
                           stage_index.take_before(partition, horizons), horizons)
    for msg, result, item in results:
        progress.count_recorded(
            stage, msg.partition, msg.offset if msg.topic == stage else None,
            events_in=result.events_in, accepted=len(result.rows),
            duplicates=result.duplicates, max_event_ms=result.watermark,
            messages=item.messages,
        )
