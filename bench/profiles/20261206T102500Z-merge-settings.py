"""Store CPU of 5,000-row inserts every 0.25 s into a fresh schema, by MergeTree merge settings."""
import os, sys, time, json, subprocess, shutil, collections
import chdb

variant, seconds = sys.argv[1], float(sys.argv[2])
SETTINGS = {
    "default": "",
    "noheur": "merge_selector_enable_heuristic_to_lower_max_parts_to_merge_at_once = 0",
    "base10": "merge_selector_base = 10",
    "noheur_base10": "merge_selector_enable_heuristic_to_lower_max_parts_to_merge_at_once = 0, merge_selector_base = 10",
    "noproj": "",
    "min10": "min_parts_to_merge_at_once = 10",
    "min10_nh": "min_parts_to_merge_at_once = 10, merge_selector_enable_heuristic_to_lower_max_parts_to_merge_at_once = 0",
    "levels": "",
}[variant]
d = f"/tmp/s12/mt-{variant}"
shutil.rmtree(d, ignore_errors=True)
env = dict(os.environ, TOUCHLINE_DATA_DIR=d)
subprocess.run(["touchline", "sink", "init"], env=env, check=True, capture_output=True)
c = chdb.connect(f"{d}/clickhouse"); cur = c.cursor()
cur.execute("SELECT database, name FROM system.tables WHERE database = 'touchline' AND engine LIKE '%MergeTree%'")
tables = cur.fetchall()
if SETTINGS:
    for db, t in tables:
        cur.execute(f"ALTER TABLE {db}.{t} MODIFY SETTING {SETTINGS}")
if variant == "noproj":
    cur.execute("ALTER TABLE touchline.activities DROP PROJECTION by_rep")
cur.execute("CREATE TABLE touchline.micro_stage ENGINE = Memory AS SELECT * FROM file('/tmp/s12/stage.parquet', Parquet)")
HZ = os.sysconf("SC_CLK_TCK")
def threads():
    out = collections.defaultdict(int)
    for tid in os.listdir("/proc/self/task"):
        try:
            st = open(f"/proc/self/task/{tid}/stat").read()
        except OSError:
            continue
        comm = st[st.index("(")+1:st.rindex(")")]
        f = st[st.rindex(")")+2:].split()
        out[tid, comm] = int(f[11]) + int(f[12])
    return out
t0 = threads(); cpu0 = os.times()
lat = []; nxt = time.monotonic(); end = nxt + seconds; b = 0
while time.monotonic() < end:
    now = time.monotonic()
    if now < nxt: time.sleep(nxt - now)
    b += 1; t = time.perf_counter()
    cur.execute(f"""INSERT INTO touchline.activities SELECT * REPLACE (concat(event_id, '-m{b}') AS event_id,
        now64(3) - toIntervalMillisecond(rand() % 60000) AS occurred_at,
        now64(3) AS ingested_at) FROM touchline.micro_stage SETTINGS async_insert=0""")
    lat.append(time.perf_counter() - t); nxt += 0.25
time.sleep(2)
t1 = threads(); cpu1 = os.times()
by = collections.defaultdict(float)
for (tid, comm), v in t1.items():
    by[comm] += (v - t0.get((tid, comm), 0)) / HZ
cur.execute("SELECT table, count(), sum(rows), max(level), sum(bytes_on_disk) FROM system.parts WHERE database='touchline' AND active GROUP BY table ORDER BY 5 DESC LIMIT 12")
parts = cur.fetchall()
q = []
for _ in range(10):
    t = time.perf_counter(); cur.execute("SELECT count() FROM touchline.activities"); cur.fetchall(); q.append(time.perf_counter() - t)
lat.sort()
print(json.dumps({"variant": variant, "inserts": b, "cpu_s": round((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), 2),
                  "merge_s": round(by.get("MergeMutate", 0), 2),
                  "top": {k: round(v, 2) for k, v in sorted(by.items(), key=lambda x: -x[1])[:5]},
                  "insert_p50": round(lat[len(lat)//2], 3), "insert_p95": round(lat[int(len(lat)*.95)], 3),
                  "count_ms": round(1000 * sorted(q)[5], 1), "parts": parts}), flush=True)
c.close()
shutil.rmtree(d, ignore_errors=True)
