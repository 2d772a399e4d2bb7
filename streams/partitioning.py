"""Which `activities` partition an event belongs to: one account's events stay together."""

from __future__ import annotations

import zlib


def partition_for(tenant: str, account_id: str, partitions: int) -> int:
    """Stable across processes and restarts (crc32, not Python's salted hash)."""
    return zlib.crc32(f"{tenant}|{account_id}".encode()) % partitions
