"""Which `activities` partition an event belongs to: one account's events stay together."""

from __future__ import annotations

import zlib


def partition_for(tenant: str, account_id: str, partitions: int) -> int:
    """Stable across processes and restarts (crc32, not Python's salted hash)."""
    return zlib.crc32(f"{tenant}|{account_id}".encode()) % partitions


def event_partition(event: dict, partitions: int) -> int:
    """The partition of a canonical event (parsed JSON) as validation computes it.

    0 if the event has no usable tenant/account (validation will reject it anyway).
    """
    tenant, account = event.get("tenant"), event.get("account_id")
    if not isinstance(tenant, str) or not isinstance(account, str):
        return 0
    return partition_for(tenant.strip(), account.strip(), partitions)
