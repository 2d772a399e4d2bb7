"""How long a Coach pass holds up the event loop of the worker that runs it.

A `touchline store` on `--data-dir` (rows generated there first, by the benchmark's generator
with its plan in force, if the directory has none: `--rows`). Then passes alternate between
the two ways a leader worker can run one, each while an asyncio loop in this process ticks
every millisecond, as the worker's loop does its work between awaits:

- `thread`: `coach_process.one_pass` in a thread of this process (how the worker ran it before
  streams/coach_process.py): its Python shares the interpreter lock with the loop;
- `process`: `coach_process.run_pass`, the Coach process (how the worker runs it now).

For each pass: its wall time, the signals it judged, the loop's worst tick lateness, its 99th
percentile, and the milliseconds lost in ticks late by more than 5 ms, plus the CPU seconds of
this process (loop, thread) and of the store.

    python bench/coach_pass_stalls.py --data-dir /tmp/stalls10m --rows 10M --passes 3
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from touchline.bench.cli import parse_count
from touchline.bench.machine import cpu_seconds
from touchline.bench.queries import generate
from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.store_client import StoreBackend
from touchline.stack.services import free_port, start_store
from touchline.streams import coach_process

#: the loop's tick (s)
TICK_S = 0.001
#: a tick later than this (ms) counts as a stall
STALL_MS = 5.0


async def _watched(run: Callable[[], Awaitable[str]]) -> tuple[str, float, list[float]]:
    """Run a pass while the loop ticks; (what it wrote, seconds, every tick's lateness in ms)."""
    late: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            ticked = time.perf_counter()
            await asyncio.sleep(TICK_S)
            late.append((time.perf_counter() - ticked - TICK_S) * 1000)

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    wrote = await run()
    seconds = time.perf_counter() - started
    done.set()
    await ticker
    return wrote, seconds, late


async def _measure(sink: ClickHouseSink, store_pid: int, passes: int) -> None:
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signals")
    lane = coach_process.coach_sink(sink).start()
    loop = asyncio.get_running_loop()
    ways: dict[str, Callable[[], Awaitable[str]]] = {
        "thread": lambda: loop.run_in_executor(thread, coach_process.one_pass, lane),
        "process": lambda: coach_process.run_pass(sink),
    }
    try:
        for way in ways.values():  # first passes: imports, the Coach process, reader sessions
            await way()
        for n in range(passes):
            for name, way in ways.items():
                own, store = time.process_time(), cpu_seconds(store_pid)
                wrote, seconds, late = await _watched(way)
                own, store = time.process_time() - own, cpu_seconds(store_pid) - store
                late.sort()
                print(f"pass {n + 1} {name:>7}: {seconds:5.2f} s; loop late max "
                      f"{late[-1]:4.0f} ms, p99 {late[int(len(late) * 0.99)]:4.1f} ms, "
                      f"{sum(x for x in late if x > STALL_MS):5.0f} ms lost in ticks late "
                      f"> {STALL_MS:.0f} ms; CPU s: this process {own:.2f}, store "
                      f"{store:.2f}; {wrote}", flush=True)
    finally:
        coach_process.stop()
        thread.shutdown()
        lane.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rows", default="10M", help="rows to generate if the directory has none")
    parser.add_argument("--passes", type=int, default=3, help="timed passes of each way")
    args = parser.parse_args()
    fresh = not (args.data_dir / "clickhouse").exists()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=args.data_dir, log_level="warn",
                        clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    sink = ClickHouseSink(settings.store_url()).start()
    try:
        if fresh:
            writer = StoreBackend(settings.store_url(), timeout=1800)
            rows = parse_count(args.rows)
            print(f"generated {rows:,} rows in {generate(writer.command, rows):.0f} s", flush=True)
            writer.close()
        asyncio.run(_measure(sink, store.proc.pid, args.passes))
    finally:
        sink.close()
        store.stop()


if __name__ == "__main__":
    main()
