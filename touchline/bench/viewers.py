"""Dashboards loading at once, as viewers load them, through the `touchline store` process.

A `touchline store` process owns a fresh data directory; N activity rows are generated into it
(touchline/bench/queries.py `generate`, run by the store's writer). Then `viewers` clients
(default 8) each load one whole dashboard per round, the dashboards dealt out in catalog order
(viewer i loads dashboard i mod the number of dashboards): every panel's SQL expanded as
Grafana sends it at that moment (dashboards/local/sqlcheck.py, the dashboard's default range and
the variables of `queries.VARIABLES`), and the panels of one dashboard requested at once, as
Grafana's frontend sends one `/api/ds/query` per panel in parallel. Every request goes to the
store's `POST /query`, the read path the local panel (dashboards/local/view.py) and a Grafana
data source in embedded mode use: the store's reader threads (sinks/store_server.py), each
with its own read-only engine session (sinks/reader_pool.py). Each client thread keeps its
keep-alive connection across rounds, as a browser does.

A round starts all viewers together and ends when the last panel has answered; `rounds` rounds
follow one warm-up round that is not counted. A panel's latency is the wall time of its
request (queueing in the store included), as a viewer sees it. The store's CPU (user + system
from /proc) over the timed rounds gives its cores in use and CPU per dashboard load; the load
average of the machine is read before and after (the cores are shared). After the rounds each
panel runs alone a few times, and the store's CPU per run says what that panel costs.

Before the rounds, a statement that reads nothing (`SELECT 1`) runs one request at a time: the
store's CPU per request is what every panel pays before it reads a row (the HTTP request, the
lanes, the engine's parse and plan). That floor times a round's requests, over the machine's
cores, is the least wall time a round can take; when it alone exceeds the panel target, no
panel rewrite can meet the target on this machine through this read path.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from touchline.bench.machine import cpu_seconds, rss_kb
from touchline.bench.queries import VARIABLES, generate, percentile
from touchline.bench.shapes import SHAPES
from touchline.dashboards.local.catalog import CatalogDashboard, dashboards
from touchline.dashboards.local.sqlcheck import expanded
from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkUnavailable, SqlError
from touchline.sinks.store_client import StoreBackend
from touchline.stack.services import free_port, start_store

#: how long one generating INSERT may take through the store (10M rows at 100M: ~1 min)
GENERATE_TIMEOUT_S = 1800.0
#: how many of the slowest panels (by p95) the table names
SLOWEST = 5
#: runs of each panel alone after the rounds, for its CPU cost (/proc ticks are 10 ms)
ALONE_REPEATS = 3
#: requests of the floor measurement (a statement that reads nothing), one at a time
FLOOR_REQUESTS = 500
FLOOR_SQL = "SELECT 1"


def _load(sink: ClickHouseSink, board: CatalogDashboard, pool: ThreadPoolExecutor,
          ) -> list[tuple[int, float, str | None]]:
    """Request every panel of `board` at once; (panel index, ms, error) of each."""
    variables = VARIABLES.get(board.uid, {"tenant": "acme"})

    def one(index: int) -> tuple[int, float, str | None]:
        sql = expanded(board.panels[index], variables)
        started = time.perf_counter()
        try:
            sink.query(sql)
        except (SqlError, SinkUnavailable) as exc:
            return index, (time.perf_counter() - started) * 1000, str(exc)[:300]
        return index, (time.perf_counter() - started) * 1000, None

    futures = [pool.submit(one, i) for i in range(len(board.panels))]
    return [f.result() for f in futures]


def _round(sink: ClickHouseSink, boards: list[CatalogDashboard],
           pools: list[ThreadPoolExecutor]) -> list[tuple[float, list]]:
    """One round: every viewer loads its dashboard at once; (load ms, panel times) per viewer."""
    out: list[tuple[float, list]] = [(0.0, [])] * len(boards)
    start = threading.Barrier(len(boards))

    def viewer(i: int) -> None:
        start.wait()
        t = time.perf_counter()
        times = _load(sink, boards[i], pools[i])
        out[i] = ((time.perf_counter() - t) * 1000, times)

    threads = [threading.Thread(target=viewer, args=(i,)) for i in range(len(boards))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _alone_cpu_ms(sink: ClickHouseSink, store_pid: int, catalog: tuple[CatalogDashboard, ...],
                  repeats: int = ALONE_REPEATS) -> dict[tuple[str, int], float]:
    """Store CPU ms of each panel run alone (one request at a time, `repeats` times, averaged).

    What each panel costs, which the concurrent rounds cannot attribute.
    """
    out: dict[tuple[str, int], float] = {}
    for board in catalog:
        variables = VARIABLES.get(board.uid, {"tenant": "acme"})
        for panel in board.panels:
            before = cpu_seconds(store_pid)
            for _ in range(repeats):
                try:
                    sink.query(expanded(panel, variables))
                except (SqlError, SinkUnavailable):
                    break
            out[(board.uid, panel.index)] = round(
                (cpu_seconds(store_pid) - before) * 1000 / repeats, 1)
    return out


def floor_cpu_ms(sink: ClickHouseSink, store_pid: int,
                 requests: int = FLOOR_REQUESTS) -> float:
    """Store CPU ms per request of a statement that reads nothing, sent one at a time.

    One at a time, so that no request joins another's run (sinks/shared_reads.py).
    """
    for _ in range(requests // 10):  # warm: the connection, the reader session, the lane
        sink.query(FLOOR_SQL)
    before = cpu_seconds(store_pid)
    for _ in range(requests):
        sink.query(FLOOR_SQL)
    return round((cpu_seconds(store_pid) - before) * 1000 / requests, 2)


def _summary(times: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1),
            "max_ms": round(max(times), 1), "mean_ms": round(statistics.fmean(times), 1)}


def measure(sink: ClickHouseSink, store_pid: int, viewers: int, rounds: int,
            log: Callable[[str], None]) -> dict[str, Any]:
    """`rounds` rounds of `viewers` dashboards loading at once through the store."""
    catalog = dashboards()
    boards = [catalog[i % len(catalog)] for i in range(viewers)]
    floor, cores = floor_cpu_ms(sink, store_pid), os.cpu_count() or 1
    per_round = sum(len(b.panels) for b in boards)
    # one client thread per panel per viewer, kept across rounds (keep-alive connections)
    pools = [ThreadPoolExecutor(max_workers=len(b.panels), thread_name_prefix=f"viewer{i}")
             for i, b in enumerate(boards)]
    try:
        _round(sink, boards, pools)  # warm-up: connections, reader sessions, marks, caches
        load_before = os.getloadavg()
        cpu_before, started = cpu_seconds(store_pid), time.monotonic()
        per_panel: dict[tuple[str, int], list[float]] = {}
        errors: dict[tuple[str, int], str] = {}
        loads: list[float] = []
        for r in range(rounds):
            for (load_ms, times), board in zip(_round(sink, boards, pools), boards, strict=True):
                loads.append(load_ms)
                for index, ms, error in times:
                    per_panel.setdefault((board.uid, index), []).append(ms)
                    if error:
                        errors[(board.uid, index)] = error
            if (r + 1) % max(1, rounds // 5) == 0:
                log(f"  round {r + 1}/{rounds}: dashboard load p50 "
                    f"{percentile(loads, 50):.0f} ms")
        wall = time.monotonic() - started
        cpu = cpu_seconds(store_pid) - cpu_before
        load_after = os.getloadavg()
    finally:
        for pool in pools:
            pool.shutdown()
    alone = _alone_cpu_ms(sink, store_pid, catalog)
    titles = {(b.uid, p.index): p.title for b in catalog for p in b.panels}
    panels = [dict(dashboard=uid, panel=titles[(uid, index)], requests=len(times),
                   **_summary(times), alone_store_cpu_ms=alone[(uid, index)],
                   **({"error": errors[(uid, index)]}
                                         if (uid, index) in errors else {}))
              for (uid, index), times in per_panel.items()]
    requests = sum(len(t) for t in per_panel.values())
    rss, peak = rss_kb(store_pid)
    return {
        "viewers": viewers, "rounds": rounds,
        "dashboards": [b.uid for b in boards],
        "panel_requests": requests, "errors": len(errors),
        "seconds": round(wall, 1),
        "dashboard_load": _summary(loads),
        "panels": panels,
        "slowest": sorted(panels, key=lambda p: -p["p95_ms"])[:SLOWEST],
        "alone_store_cpu_ms_per_dashboard": {
            b.uid: round(sum(alone[(b.uid, p.index)] for p in b.panels), 1) for b in catalog},
        "store_cpu_s": round(cpu, 2), "store_cpu_cores": round(cpu / wall, 2),
        "store_cpu_ms_per_dashboard": round(cpu * 1000 / len(loads), 1),
        "store_cpu_ms_per_panel": round(cpu * 1000 / requests, 2),
        "floor_store_cpu_ms_per_request": floor,
        "requests_per_round": per_round, "cores": cores,
        # the least wall time of a round if every panel cost only the floor, on every core
        "floor_round_ms": round(floor * per_round / cores, 1),
        "store_rss_mb": round(rss / 1024), "store_peak_rss_mb": round(peak / 1024),
        "load_avg_before": [round(v, 2) for v in load_before],
        "load_avg_after": [round(v, 2) for v in load_after],
    }


def run(directory: Path, rows: int, viewers: int, rounds: int,
        log: Callable[[str], None], shape: str = "dense") -> dict[str, Any]:
    """Start a store on a fresh directory, generate `rows` activities, load dashboards at once."""
    settings = Settings(data_dir=directory, log_level="warn",
                        clickhouse=ClickHouseSettings(store_port=free_port()))
    directory.mkdir(parents=True, exist_ok=True)
    store = start_store(settings)
    sink = ClickHouseSink(settings.store_url()).start()
    writer = StoreBackend(settings.store_url(), timeout=GENERATE_TIMEOUT_S)
    try:
        seconds = generate(writer.command, rows, shape=shape)
        counted = int(sink.query("SELECT count() FROM touchline.activities").scalar())
        log(f"  generated {counted:,} rows ({shape}) through the store in {seconds:.1f}s; "
            f"{viewers} viewers x {rounds} rounds")
        result = measure(sink, store.proc.pid, viewers, rounds, log)
        disk = sum(f.stat().st_size for f in (directory / "clickhouse").rglob("*")
                   if f.is_file())
    finally:
        writer.close()
        sink.close()
        store.stop()
    return {"rows": counted, "shape": shape, "history_days": SHAPES[shape].days(rows),
            "generate_seconds": round(seconds, 1), "data_dir_gb": round(disk / 1e9, 2), **result}
