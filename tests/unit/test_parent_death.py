"""The stack's children (touchline/stack/services.py `spawn`, the Coach process) die with the
process that started them, even one that died before the child could ask to (PR_SET_PDEATHSIG
set after the parent's death never fires): a worker killed while its Coach process was
starting left that process running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import signal, sys
from touchline.parent_death import die_with_parent
die_with_parent(signal.SIGKILL, int(sys.argv[1]))
print("still running")
"""


def test_a_child_whose_starter_is_gone_dies_at_once() -> None:
    """PR_SET_PDEATHSIG set after the parent died never fires: the child checks and dies."""
    gone = subprocess.run([sys.executable, "-c", CHILD, "1"], capture_output=True, text=True,
                          timeout=60)  # pid 1 did not start it: as if its starter had died
    assert gone.returncode == -signal.SIGKILL and gone.stdout == ""
    kept = subprocess.run([sys.executable, "-c", CHILD, str(os.getpid())],
                          capture_output=True, text=True, timeout=60)
    assert kept.returncode == 0 and kept.stdout == "still running\n", kept.stderr


WORKER = """
import asyncio, os
from touchline.streams import coach_process

async def main() -> None:
    starting = asyncio.ensure_future(coach_process.start())
    await asyncio.sleep(0.05)  # the Coach process is spawned, still importing
    kids = [pid for pid in os.listdir("/proc") if pid.isdigit()
            and open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())]
    print(" ".join(kids), flush=True)
    os.kill(os.getpid(), 9)  # the worker killed while its Coach process starts
    await starting

asyncio.run(main())
"""


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")  # a zombie no one reaps has ended


def test_a_coach_process_ends_when_its_worker_is_killed_while_it_starts() -> None:
    # a Coach process left running would hold the pipes open: run() would time out
    worker = subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True,
                            timeout=60)
    assert worker.returncode == -signal.SIGKILL, worker.stderr
    children = [int(pid) for pid in worker.stdout.split()]
    assert children, "the worker started no Coach process"
    try:
        deadline = time.monotonic() + 30
        while any(_running(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if _running(pid)]
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
