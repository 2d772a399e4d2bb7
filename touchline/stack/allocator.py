"""glibc malloc tuning for the long-running worker (docs/decisions/0005-mmap-threshold.md).

glibc serves an allocation of at least M_MMAP_THRESHOLD bytes with its own mapping and gives
it back to the system when it is freed. By default that threshold adapts: freeing a mapped
block raises it to that block's size, so from then on the worker's big, short-lived blocks
(dedup set tables being rebuilt, insert bodies, fetched record batches) come from the main
heap, where a small live block above them keeps the freed space from being returned. Setting
the threshold explicitly turns the adaptation off.
"""

from __future__ import annotations

import ctypes

#: mallopt parameter number of M_MMAP_THRESHOLD in glibc's malloc.h
M_MMAP_THRESHOLD = -3


def fix_mmap_threshold(size: int) -> bool:
    """Set glibc's mmap threshold to `size` bytes; False if 0 or not glibc (nothing done)."""
    if size <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not a glibc process (musl, macOS)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, size) == 1
