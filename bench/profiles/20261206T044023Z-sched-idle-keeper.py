"""Experiment: put the store's nice-10 threads (the Coach pass's engine threads) in SCHED_IDLE
while they are at nice 10, back to SCHED_OTHER when the engine resets them to 0."""
import os, sys, time
def store_pid():
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = open(f"/proc/{p}/cmdline").read()
            except Exception:
                continue
            if "touchline\x00store" in cmd:
                return int(p)
    return None
moves = 0
deadline = time.time() + float(sys.argv[1])
pid = None
while time.time() < deadline:
    if pid is None or not os.path.exists(f"/proc/{pid}"):
        pid = store_pid()
        if pid is None:
            time.sleep(0.2); continue
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        pid = None; continue
    for t in tids:
        try:
            f = open(f"/proc/{pid}/task/{t}/stat").read()
            fields = f[f.rindex(")")+2:].split()
            nice, policy = int(fields[16]), int(fields[38])
            tid = int(t)
            if nice >= 10 and policy != os.SCHED_IDLE:
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0)); moves += 1
            elif nice < 10 and policy == os.SCHED_IDLE:
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0)); moves += 1
        except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError, OSError):
            pass
    time.sleep(0.005)
print("moves", moves)
