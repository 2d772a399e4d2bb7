"""CPU seconds per thread name of the store, workers and broker, sampled from /proc.

    python 20261206T094028Z-thread-cpu.py SECONDS

Started beside a `touchline bench` run: every 0.5 s it reads each thread's user + system ticks
of the processes it recognises, and at the end prints the ticks each thread gained while
sampled, summed by process and thread name.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
import time
from pathlib import Path

HZ = os.sysconf("SC_CLK_TCK")


def kind_of(pid: str) -> str | None:
    """Which part of the stack a process is, from its command line."""
    try:
        line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None
    if b"touchline" in line and b" store" in line:
        return "store"
    if b"touchline" in line and b" worker" in line:
        return "worker"
    if b"noida" in line:
        return "broker"
    if b"spawn_main" in line or b"multiprocessing" in line:
        return "coach?"
    return None


def main(seconds: float) -> None:
    """Sample for `seconds`, then print the totals."""
    seen: dict[tuple[str, str], tuple[str, str, int, int]] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            kind = kind_of(pid)
            if not kind:
                continue
            with contextlib.suppress(OSError):
                for tid in os.listdir(f"/proc/{pid}/task"):
                    stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                    comm = stat[stat.index("(") + 1:stat.rindex(")")]
                    fields = stat[stat.rindex(")") + 2:].split()
                    ticks = int(fields[11]) + int(fields[12])
                    first = seen.get((pid, tid), (kind, comm, ticks, ticks))
                    seen[pid, tid] = (kind, comm, first[2], ticks)
        time.sleep(0.5)
    total: dict[tuple[str, str, str], float] = collections.defaultdict(float)
    for (pid, _tid), (kind, comm, t0, t1) in seen.items():
        total[kind, pid, comm] += (t1 - t0) / HZ
    for (kind, pid, comm), spent in sorted(total.items(), key=lambda x: -x[1]):
        if spent >= 0.05:
            print(f"{kind:7s} {pid:>7s} {comm:20s} {spent:7.2f}")


if __name__ == "__main__":
    main(float(sys.argv[1]))
