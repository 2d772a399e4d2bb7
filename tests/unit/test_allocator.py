"""The worker's malloc tuning: big blocks stay mapped (returned to the system) after a big free."""

from __future__ import annotations

import subprocess
import sys

import pytest

from touchline.stack.allocator import fix_mmap_threshold

#: in a fresh process: optionally fix the threshold, free one 16 MB block (glibc's adaptive
#: rule then raises the threshold to 16 MB), then count how many of 40 new 1 MB blocks are
#: mapped (mallinfo2().hblks)
SCRIPT = """
import ctypes, sys
from touchline.stack.allocator import fix_mmap_threshold
if sys.argv[1] == "fixed":
    assert fix_mmap_threshold(256 * 1024)
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(16 * 1024 * 1024))
before = libc.mallinfo2().hblks
blocks = [libc.malloc(1024 * 1024) for _ in range(40)]
print(libc.mallinfo2().hblks - before)
"""


def mapped_after_big_free(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


def test_fixed_threshold_keeps_big_blocks_mapped_after_a_big_free():
    if not hasattr(__import__("ctypes").CDLL(None), "mallinfo2"):
        pytest.fail("this test needs glibc >= 2.33 (mallinfo2); the worker's tuning is glibc's")
    assert mapped_after_big_free("adaptive") == 0  # glibc's default: now from the heap
    assert mapped_after_big_free("fixed") == 40


def test_zero_leaves_glibc_default():
    assert fix_mmap_threshold(0) is False
