"""Which opportunities' stage histories stay in memory, and loading an evicted one back.

An opportunity's history is needed in memory only while a change can still arrive that sorts
before its latest one: a change is accepted only if it is not older than (watermark - allowed
lateness), so once the latest change is older than that, every later change sorts after it.
Such a history is evicted from the Faust table (a tombstone in its changelog) and, if the
opportunity ever changes again, read back from ClickHouse `stage_visits` (one visit per change
recorded, keyed by tenant and opportunity) before the change is applied. Memory then holds the
opportunities changed within the allowed lateness, not every opportunity ever seen.

`StageIndex` remembers, per partition and event-time bucket, which keys were last changed
then, so eviction touches only the keys that may be due. After a restart or rebalance the
table is recovered from its changelog; `index_partition` adds its keys back to the index.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.streams.dwell import Change
from touchline.streams.partitioning import partition_for


class StageIndex:
    """Keys of the stage-history table by partition and bucket of their latest change."""

    def __init__(self, bucket_ms: int) -> None:
        self.bucket_ms = bucket_ms
        self._buckets: dict[int, dict[int, set[str]]] = {}

    def indexed(self, partition: int) -> bool:
        """Whether the partition's keys are indexed since it was (re)assigned."""
        return partition in self._buckets

    def mark_indexed(self, partition: int) -> None:
        """The partition's keys are (being) indexed, even if it has none."""
        self._buckets.setdefault(partition, {})

    def note(self, partition: int, key: str, latest_ms: int) -> None:
        """The key's latest change is at `latest_ms` (an older entry may stay: it is checked)."""
        self._buckets.setdefault(partition, {}).setdefault(
            latest_ms // self.bucket_ms, set()).add(key)

    def take_before(self, partition: int, cutoff_ms: int) -> set[str]:
        """Remove and return the keys of whole buckets before `cutoff_ms`."""
        buckets = self._buckets.get(partition)
        if not buckets:
            return set()
        cutoff = cutoff_ms // self.bucket_ms
        due: set[str] = set()
        for bucket in [b for b in buckets if b < cutoff]:
            due |= buckets.pop(bucket)
        return due

    def forget(self, partition: int) -> None:
        """The partition moved to another worker."""
        self._buckets.pop(partition, None)


def change_partition(change: Change, tenant: str, partitions: int) -> int:
    """The activities partition a history belongs to: its latest change's account's."""
    return partition_for(tenant, change[4], partitions)


def index_partition(index: StageIndex, history: MutableMapping[str, list[Change]],
                    partition: int, partitions: int) -> int:
    """Index every key of `history` that belongs to `partition`; returns how many."""
    index.mark_indexed(partition)
    n = 0
    for key, changes in list(history.items()):
        if changes and change_partition(changes[-1], key.split("|", 1)[0],
                                        partitions) == partition:
            index.note(partition, key, changes[-1][0])
            n += 1
    return n


def evict(history: MutableMapping[str, list[Change]], keys: Iterable[str],
          cutoff_ms: int) -> int:
    """Delete the histories whose latest change is before `cutoff_ms`; returns how many.

    A key changed since it was noted has a later latest change and stays.
    """
    n = 0
    for key in keys:
        if key in history:
            changes = history[key]
            if not changes or changes[-1][0] < cutoff_ms:
                del history[key]
                n += 1
    return n


def needs_history(row: dict[str, Any]) -> bool:
    """Whether a stage change implies earlier changes (it says which stage it left)."""
    return bool(row.get("from_stage"))


def load_histories(sink: ClickHouseSink, keys: Iterable[str]) -> dict[str, list[Change]]:
    """"tenant|opportunity" -> its changes as recorded, rebuilt from `stage_visits`.

    Each visit is one change: entered_at, entered_event_id and the stage entered. The stage
    left is the previous visit's (not needed to compute visits); account, rep and team are
    the opportunity's latest, which is all the opportunity row uses.
    """
    wanted = set(keys)
    if not wanted:
        return {}
    tenants = sorted({k.split("|", 1)[0] for k in wanted})
    opportunities = sorted({k.split("|", 1)[1] for k in wanted})
    rows = sink.query(
        f"SELECT tenant, opportunity_id, toUnixTimestamp64Milli(entered_at), entered_event_id,"
        f" stage, account_id, rep_id, team_id FROM {sink.table('stage_visits')} FINAL "
        "WHERE tenant IN {tenants:Array(String)} "
        "AND opportunity_id IN {opportunities:Array(String)} "
        "ORDER BY tenant, opportunity_id, entered_at, entered_event_id",
        {"tenants": tenants, "opportunities": opportunities}, readonly=True).rows
    out: dict[str, list[Change]] = {}
    for tenant, opp, entered, event_id, stage, account, rep, team in rows:
        if f"{tenant}|{opp}" not in wanted:  # another tenant's opportunity of the same id
            continue
        changes = out.setdefault(f"{tenant}|{opp}", [])
        left = changes[-1][3] if changes else None
        changes.append([int(entered), event_id, left, stage, account, rep, team])
    return out
