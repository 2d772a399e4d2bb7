"""Experiment (not shipped): the store's nice-10 threads (a Coach pass's engine threads) in
SCHED_IDLE while the engine keeps them at nice 10, back to SCHED_OTHER when it resets them.

    python bench/profiles/20261206T044023Z-sched-idle-keeper.py SECONDS
"""

import os
import sys
import time


def store_pid() -> int | None:
    """The pid of the running `touchline store`, if any."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline") as fh:
                if "touchline\x00store" in fh.read():
                    return int(entry)
        except OSError:
            continue
    return None


def keep(pid: int) -> int:
    """One sweep over the store's threads; how many changed policy."""
    moves = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                stat = fh.read()
            fields = stat[stat.rindex(")") + 2:].split()
            nice, policy = int(fields[16]), int(fields[38])
            if nice >= 10 and policy != os.SCHED_IDLE:
                os.sched_setscheduler(int(tid), os.SCHED_IDLE, os.sched_param(0))
                moves += 1
            elif nice < 10 and policy == os.SCHED_IDLE:
                os.sched_setscheduler(int(tid), os.SCHED_OTHER, os.sched_param(0))
                moves += 1
        except (OSError, IndexError):
            continue
    return moves


def main() -> None:
    deadline, pid, moves = time.time() + float(sys.argv[1]), None, 0
    while time.time() < deadline:
        if pid is None or not os.path.exists(f"/proc/{pid}"):
            pid = store_pid()
        if pid is None:
            time.sleep(0.2)
            continue
        try:
            moves += keep(pid)
        except FileNotFoundError:
            pid = None
        time.sleep(0.005)
    print("moves", moves)


if __name__ == "__main__":
    main()
