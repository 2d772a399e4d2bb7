"""Which opportunities' stage histories stay in memory, and loading a history back.

A history stays in memory while its opportunity changes within the allowed lateness of its
tenant's watermark. Once its latest change is older than that, it is evicted from the Faust
table (a tombstone in its changelog). Whenever a change arrives for an opportunity whose
history is not in memory (evicted, never loaded, or lost with a restart), the history is
read back from ClickHouse `stage_visits` (one visit per change recorded, keyed by tenant and
opportunity) before the change is applied, whatever the change carries (CRMs send no
`from_stage`) and however old it is (a backfill). Memory then holds the opportunities
changed recently, not every opportunity ever seen.

`StageIndex` remembers, per partition, tenant and event-time bucket, which keys were last
changed then, so eviction touches only the keys that may be due. After a restart or
rebalance the table is recovered from its changelog; `index_partition` adds its keys back.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.streams.dwell import Change
from touchline.streams.partitioning import partition_for


class StageIndex:
    """Keys of the stage-history table by partition, tenant and bucket of their latest change."""

    def __init__(self, bucket_ms: int) -> None:
        self.bucket_ms = bucket_ms
        self._buckets: dict[int, dict[tuple[str, int], set[str]]] = {}

    def indexed(self, partition: int) -> bool:
        """Whether the partition's keys are indexed since it was (re)assigned."""
        return partition in self._buckets

    def mark_indexed(self, partition: int) -> None:
        """The partition's keys are (being) indexed, even if it has none."""
        self._buckets.setdefault(partition, {})

    def note(self, partition: int, key: str, latest_ms: int) -> None:
        """The key's latest change is at `latest_ms` (an older entry may stay: it is checked)."""
        tenant = key.split("|", 1)[0]
        self._buckets.setdefault(partition, {}).setdefault(
            (tenant, latest_ms // self.bucket_ms), set()).add(key)

    def take_before(self, partition: int, cutoffs: dict[str, int]) -> set[str]:
        """Remove and return the keys of whole buckets before their tenant's cutoff (ms)."""
        buckets = self._buckets.get(partition)
        if not buckets:
            return set()
        due: set[str] = set()
        for tenant, bucket in list(buckets):
            if tenant in cutoffs and bucket < cutoffs[tenant] // self.bucket_ms:
                due |= buckets.pop((tenant, bucket))
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
          cutoffs: dict[str, int]) -> int:
    """Delete the histories whose latest change is before their tenant's cutoff; how many.

    A key changed since it was noted has a later latest change and stays.
    """
    n = 0
    for key in keys:
        if key in history:
            changes = history[key]
            if not changes or changes[-1][0] < cutoffs[key.split("|", 1)[0]]:
                del history[key]
                n += 1
    return n


def load_histories(sink: ClickHouseSink, keys: Iterable[str]) -> dict[str, list[Change]]:
    """"tenant|opportunity" -> its changes as recorded, rebuilt from `stage_visits`.

    Each visit is one change: entered_at, entered_event_id, the stage entered, its outcome
    and vendor name. The stage left is the previous visit's (not needed to compute visits);
    account, rep and team are the opportunity's latest, which is all the opportunity row
    uses; the editor of the latest change is the opportunity row's.
    """
    wanted = set(keys)
    if not wanted:
        return {}
    tenants = sorted({k.split("|", 1)[0] for k in wanted})
    opportunities = sorted({k.split("|", 1)[1] for k in wanted})
    rows = sink.query(
        f"SELECT v.tenant, v.opportunity_id, toUnixTimestamp64Milli(v.entered_at), "
        f"v.entered_event_id, v.stage, v.account_id, v.rep_id, v.team_id, v.is_closed, "
        f"v.is_won, v.vendor_stage, o.editor_id FROM {sink.table('stage_visits')} AS v FINAL "
        f"LEFT JOIN (SELECT tenant, opportunity_id, editor_id "
        f"FROM {sink.table('opportunity_state')} FINAL "
        "WHERE tenant IN {tenants:Array(String)} "
        "AND opportunity_id IN {opportunities:Array(String)}) AS o "
        "ON o.tenant = v.tenant AND o.opportunity_id = v.opportunity_id "
        "WHERE v.tenant IN {tenants:Array(String)} "
        "AND v.opportunity_id IN {opportunities:Array(String)} "
        "ORDER BY v.tenant, v.opportunity_id, v.entered_at, v.entered_event_id",
        {"tenants": tenants, "opportunities": opportunities}, readonly=True).rows
    out: dict[str, list[Change]] = {}
    for (tenant, opp, entered, event_id, stage, account, rep, team, closed, won, vendor,
         editor) in rows:
        if f"{tenant}|{opp}" not in wanted:  # another tenant's opportunity of the same id
            continue
        changes = out.setdefault(f"{tenant}|{opp}", [])
        left = changes[-1][3] if changes else None
        changes.append([int(entered), event_id, left, stage, account, rep, team, int(closed),
                        int(won), vendor, editor or ""])
    return out
