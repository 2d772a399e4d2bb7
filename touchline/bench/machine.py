"""What the numbers were measured on: cores, RAM, CPU model, Python, package versions."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def describe() -> dict[str, Any]:
    """The machine and software of this run."""
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gb": _ram_gb(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_avg_at_start": list(os.getloadavg()),
        "packages": {d: _version(d) for d in (
            "faust-streaming", "aiokafka", "pydantic", "orjson", "pyarrow", "chdb",
            "clickhouse-connect", "noida-db")},
    }


def rss_kb(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process in KiB, from /proc (0, 0 when it is gone)."""
    rss = peak = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    except OSError:
        pass
    return rss, peak


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name ([] when the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 when it is gone)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def descendants(pid: int) -> list[int]:
    """Every live process under `pid` (its children, theirs, ...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        out.append(todo.pop())
        todo.extend(children.get(out[-1], []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and every process under it, those that ended and were reaped included.

    A worker's Coach process (streams/coach_process.py) works for the worker: its CPU is the
    worker's.
    """
    total = 0.0
    for each in (pid, *descendants(pid)):
        fields = _stat(each)
        if fields:  # its own time, and that of its children already waited for
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total
