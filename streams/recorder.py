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
from typing import Any

from faust.streams import _current_event

from touchline.settings import PipelineSettings, get_settings
from touchline.streams import progress, stage_memory, writer
from touchline.streams.dedup import bucket_ms_for
from touchline.streams.recording import BatchResult, PartitionWindows, record_batch
from touchline.streams.stage_memory import StageIndex
from touchline.streams.tables import stage_history_by_opportunity, watermark_by_partition
from touchline.streams.topics import dead_letter_topic

windows = PartitionWindows(
    bucket_ms_for(get_settings().pipeline.allowed_lateness_s * 1000))
#: stage-history keys by partition and event time, for eviction (streams/stage_memory.py)
stage_index = StageIndex(windows.bucket_ms)


def as_current(event: object) -> None:
    """Make `event` the current event of this agent's task only (Faust tables read it).

    Only the context variable: the stream's own `current_event` attribute is what the take
    buffer reads while filling the next batch, so it must not be touched here.
    """
    _current_event.set(weakref.ref(event))


async def _stage_history_ready(partition: int, rows: list[dict[str, Any]]) -> None:
    """Index a (re)assigned partition's histories; load back evicted ones these rows change.

    Runs in the context of the rows' message (as_current), so a reloaded history is written
    to the table's changelog partition of that message.
    """
    history = stage_history_by_opportunity
    if not stage_index.indexed(partition):
        stage_memory.index_partition(stage_index, history, partition,
                                     get_settings().kafka.partitions)
    keys = {f"{row['tenant']}|{row['opportunity_id']}" for row in rows
            if row["type"] == "stage_change" and stage_memory.needs_history(row)}
    missing = [key for key in keys if key not in history]
    if not missing:
        return
    loaded = await writer.write(lambda sink: stage_memory.load_histories(sink, missing),
                                "stage history reload")
    for key, changes in loaded.items():
        if key not in history:  # another batch may have recorded a change meanwhile
            history[key] = changes
            stage_index.note(partition, key, changes[-1][0])


async def record_messages(items: Sequence[tuple[Any, list[dict[str, Any]]]],
                          rules: PipelineSettings, *, stage: str) -> list[Any]:
    """Record each (event, rows) in order with one insert per table; return the DLQ sends.

    `stage` names the `activities` topic: the counters of this stage are reported under it
    whichever topic the rows came from. The watermark table and window eviction are updated
    only after the insert returned; the caller acknowledges the messages after that.
    """
    if not items:
        return []
    lateness = rules.allowed_lateness_s * 1000
    watermarks: dict[int, int] = {}
    last_event: dict[int, object] = {}
    results: list[tuple[Any, BatchResult]] = []
    for event, rows in items:
        msg = event.message
        # table writes go to the changelog partition of the event being processed
        as_current(event)
        last_event[msg.partition] = event
        watermark = watermarks.get(msg.partition)
        if watermark is None:
            watermark = watermark_by_partition[str(msg.partition)]
        cutoff = watermark - lateness if watermark else None
        window = await windows.get(msg.partition, cutoff)
        await _stage_history_ready(msg.partition, rows)
        result = record_batch(
            rows, window, watermark, rules,
            topic=msg.topic, partition=msg.partition, offset=msg.offset,
            stage_history=stage_history_by_opportunity, stage_index=stage_index,
        )
        watermarks[msg.partition] = max(watermark, result.watermark)
        results.append((msg, result))
    combined = BatchResult.combine([r for _, r in results])
    await writer.write(combined.write, "insert")
    for partition, watermark in watermarks.items():  # only after the rows are durable
        as_current(last_event[partition])
        if watermark > watermark_by_partition[str(partition)]:
            watermark_by_partition[str(partition)] = watermark
        windows.evict(partition, watermark - lateness)
        horizon = watermark - lateness - stage_index.bucket_ms  # a bucket of slack
        stage_memory.evict(stage_history_by_opportunity,
                           stage_index.take_before(partition, horizon), horizon)
    sends = []
    for msg, result in results:
        for dead in result.dead_letters:
            sends.append(await dead_letter_topic.send(value=dead.model_dump_json().encode()))
        progress.count_recorded(
            stage, msg.partition, msg.offset if msg.topic == stage else None,
            events_in=result.events_in, accepted=len(result.rows),
            duplicates=result.duplicates, rejected=len(result.dead_letters),
            max_event_ms=result.watermark,
        )
    return sends
