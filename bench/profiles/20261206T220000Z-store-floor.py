"""The store's CPU per request of a statement that reads nothing, sent one at a time.

python bench/profiles/20261206T220000Z-store-floor.py DIR [SQL]; SECS (env) seconds of
requests (default 12). Writes the store's PID to DIR/pid while it runs (for perf or py-spy),
then prints the store's CPU per request and its CPU ticks per thread name.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from touchline.bench.machine import cpu_seconds
from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack.services import free_port, start_store


def thread_ticks(pid: int) -> dict[str, int]:
    """CPU ticks (user + system) of `pid`'s threads, summed by thread name."""
    out: dict[str, int] = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def main() -> None:
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    sql = sys.argv[2] if len(sys.argv) > 2 else "SELECT 1"
    settings = Settings(data_dir=folder, log_level="warn",
                        clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    sink = ClickHouseSink(settings.store_url()).start()
    try:
        for _ in range(100):
            sink.query(sql)
        pid = store.proc.pid
        (folder / "pid").write_text(str(pid))
        count, before, started = 0, cpu_seconds(pid), time.time()
        while time.time() - started < float(os.environ.get("SECS", "12")):
            sink.query(sql)
            count += 1
        print(f"{count} requests, store CPU {1000 * (cpu_seconds(pid) - before) / count:.2f} "
              f"ms per request, wall {1000 * (time.time() - started) / count:.2f} ms")
        print(sorted(thread_ticks(pid).items(), key=lambda item: -item[1])[:15])
    finally:
        sink.close()
        store.stop()


if __name__ == "__main__":
    main()
