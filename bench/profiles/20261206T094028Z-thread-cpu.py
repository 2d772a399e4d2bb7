"""Sample per-thread CPU of every `touchline store` / worker process; print totals by thread name."""
import os, sys, time, collections, json
HZ = os.sysconf("SC_CLK_TCK")
seen = {}  # (pid, tid) -> (proc_kind, comm, ticks)
def kind_of(pid):
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return None
    s = b" ".join(cmd)
    if b"touchline" in s and b" store" in s: return "store"
    if b"touchline" in s and b" worker" in s: return "worker"
    if b"noida" in s: return "broker"
    if b"spawn_main" in s or b"multiprocessing" in s: return "coach?"
    return None
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    for pid in os.listdir("/proc"):
        if not pid.isdigit(): continue
        k = kind_of(pid)
        if not k: continue
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                st = open(f"/proc/{pid}/task/{tid}/stat").read()
                comm = st[st.index("(")+1:st.rindex(")")]
                f = st[st.rindex(")")+2:].split()
                ticks = int(f[11]) + int(f[12])
                key = (pid, tid)
                first = seen.get(key, (k, comm, ticks, ticks))
                seen[key] = (k, comm, first[2], ticks)
        except OSError:
            pass
    time.sleep(0.5)
tot = collections.defaultdict(float)
for (pid, tid), (k, comm, t0, t1) in seen.items():
    tot[(k, pid, comm)] += (t1 - t0) / HZ
for (k, pid, comm), s in sorted(tot.items(), key=lambda x: -x[1]):
    if s >= 0.05: print(f"{k:7s} {pid:>7s} {comm:20s} {s:7.2f}")
