"""Insert latency while rule queries run beside it, by the queries' settings (one process)."""
import sys, time, threading, statistics, os, subprocess, json
import chdb

PATH = "/tmp/s12/micro/clickhouse"
RULES = ("rule_stuck_deals", "rule_inactive_deals", "rule_untouched_accounts",
         "rule_cadences_behind", "rule_leads_over_sla", "rule_activity_mix", "rule_idle_reps")
VARIANTS = {
    "none": None,
    "nice10": {"os_thread_priority": 10},
    "nice0": {"os_thread_priority": 0},
    "nice10_t1": {"os_thread_priority": 10, "max_threads": 1},
    "nice0_t1": {"os_thread_priority": 0, "max_threads": 1},
    "nice19": {"os_thread_priority": 19},
}
w = chdb.connect(PATH)
wc = w.cursor()
wc.execute("CREATE TEMPORARY TABLE IF NOT EXISTS stage AS touchline.activities ENGINE = Memory") if False else None
wc.execute("DROP TABLE IF EXISTS touchline.micro_stage")
wc.execute("CREATE TABLE touchline.micro_stage ENGINE = Memory AS SELECT * FROM touchline.activities WHERE occurred_at > now64(3) - INTERVAL 20 DAY LIMIT 5000")
wc.execute("SELECT count() FROM touchline.micro_stage"); print("stage rows", wc.fetchall(), flush=True)
cols = None
batch = [0]

def insert_once():
    batch[0] += 1
    b = batch[0]
    t = time.perf_counter()
    wc.execute(f"""INSERT INTO touchline.activities SELECT * REPLACE (concat(event_id, '-m{b}') AS event_id,
        now64(3) - toIntervalMillisecond(rand() % 60000) AS occurred_at)
        FROM touchline.micro_stage SETTINGS async_insert=0, insert_deduplicate=0""")
    return time.perf_counter() - t

stop = threading.Event()
def reader(settings):
    r = chdb.connect(PATH); rc = r.cursor()
    s = ", ".join(f"{k}={v}" for k, v in settings.items())
    n = 0
    while not stop.is_set():
        for rule in RULES:
            if stop.is_set(): break
            rc.execute(f"SELECT count() FROM touchline.{rule}(tenant='acme', now=now64(3)) SETTINGS {s}")
            rc.fetchall(); n += 1
    r.close()

def phase(name, seconds=20.0):
    settings = VARIANTS[name]
    stop.clear()
    th = threading.Thread(target=reader, args=(settings,)) if settings else None
    if th: th.start()
    lat = []
    t_end = time.monotonic() + seconds
    nxt = time.monotonic()
    late = []
    while time.monotonic() < t_end:
        now = time.monotonic()
        if now < nxt: time.sleep(nxt - now)
        late.append(max(0.0, time.monotonic() - nxt))
        lat.append(insert_once())
        nxt += 0.25
    stop.set()
    if th: th.join()
    lat.sort()
    q = lambda p: lat[min(len(lat)-1, int(p*len(lat)))]
    print(json.dumps({"variant": name, "inserts": len(lat), "p50": round(q(.5),3), "p95": round(q(.95),3),
                      "max": round(lat[-1],3), "behind_s": round(sum(late),2)}), flush=True)

burner = None
if len(sys.argv) > 1 and sys.argv[1] == "burn":
    burner = subprocess.Popen([sys.executable, "-c", """
import time
while True:
    t = time.perf_counter()
    while time.perf_counter() - t < 0.07: pass
    time.sleep(0.03)
"""])
order = sys.argv[2].split(",") if len(sys.argv) > 2 else list(VARIANTS)
try:
    for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 1):
        for v in order:
            phase(v)
finally:
    if burner: burner.kill()
    wc.execute("DROP TABLE IF EXISTS touchline.micro_stage")
