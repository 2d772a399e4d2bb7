"""The store process: the query/insert API other processes use while it owns the engine."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkUnavailable, SqlError
from touchline.sinks.reader_pool import BACKGROUND_NICE
from touchline.sinks.store_client import StoreBackend, background_dsn
from touchline.stack.services import free_port, start_store

pytestmark = pytest.mark.integration


def test_store_answers_queries_with_typed_parameters(tmp_path):
    settings = Settings(data_dir=tmp_path, clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    sink = ClickHouseSink(settings.store_url()).start()
    try:
        now = dt.datetime(2026, 11, 23, 10, 30, 0, 123000, tzinfo=dt.UTC)
        got = sink.query("SELECT {now:DateTime64(3, 'UTC')} AS t, {n:UInt32} + 1 AS n",
                         {"now": now, "n": 41}).rows
        assert got == [(now.replace(tzinfo=None), 42)]
        local = now.astimezone(dt.timezone(dt.timedelta(hours=2)))  # same instant, other zone
        assert sink.query("SELECT {t:DateTime64(3, 'UTC')}", {"t": local}).scalar() == \
            now.replace(tzinfo=None)
        with pytest.raises(SqlError, match="READONLY|readonly"):
            sink.query("CREATE TABLE touchline.x (a UInt8) ENGINE = Memory")
    finally:
        sink.close()
        store.stop()


def _threads(pid: int) -> dict[int, tuple[int, int]]:
    """(nice, user + system ticks) of every thread of `pid`, from /proc."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        out[int(task.name)] = (int(fields[16]), int(fields[11]) + int(fields[12]))
    return out


def _can_renice(pid: int) -> bool:
    """Whether `pid` holds CAP_SYS_NICE (bit 23 of its effective capabilities)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return bool(int(re.search(r"^CapEff:\s*([0-9a-f]+)$", status, re.M).group(1), 16) >> 23 & 1)


def _run_watched(pid: int, run: Callable[[], object]) -> tuple[dict[int, int], set[int]]:
    """CPU ticks each thread of `pid` used while `run()` ran, and the threads seen at nice 10."""
    niced: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            niced.update(t for t, (nice, _) in _threads(pid).items() if nice == BACKGROUND_NICE)
            time.sleep(0.02)

    before = _threads(pid)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run()
    finally:
        done.set()
        watcher.join()
    after = _threads(pid)
    return {t: ticks - before.get(t, (0, 0))[1] for t, (_, ticks) in after.items()}, niced


#: a read that keeps the engine busy for a second or two
HEAVY = "SELECT sum(cityHash64(toString(number))) FROM numbers(150000000)"


def test_background_lane_reads_at_a_lower_priority_for_the_query_only(tmp_path):
    """A background read runs on engine threads at nice 10, put back to 0 when it ends.

    Where the store may renice (CAP_SYS_NICE, as root here): the CPU of a heavy background
    read lands on threads seen at nice 10 while it ran, none is left at 10 afterwards, and a
    heavy read of the normal lane runs on no niced thread. Without the capability the engine
    accepts the setting and nothing is niced. A background client waits for a query as long as
    the lane lets it run. An unknown lane is refused in one line.
    """
    settings = Settings(data_dir=tmp_path, clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    live = ClickHouseSink(settings.store_url()).start()
    background = ClickHouseSink(background_dsn(settings.store_url())).start()
    pid = store.proc.pid
    setting = "SELECT getSetting('os_thread_priority'), getSetting('max_execution_time')"
    try:
        assert background.query(setting).rows == [(BACKGROUND_NICE, 600)]
        assert live.query(setting).rows == [(0, settings.clickhouse.read_timeout_s)]
        live.query(HEAVY)  # the engine's threads exist and have run a normal query

        used, niced = _run_watched(pid, lambda: background.query(HEAVY))
        assert sum(used.values()) >= 30, used  # >= 0.3 s of CPU: the check means something
        if _can_renice(pid):
            assert sum(used[t] for t in niced if t in used) > 0.8 * sum(used.values()), \
                (used, niced)
        else:
            assert not niced
        assert BACKGROUND_NICE not in {nice for nice, _ in _threads(pid).values()}

        used, niced = _run_watched(pid, lambda: live.query(HEAVY))
        assert sum(used.values()) >= 30 and not niced, (used, niced)

        # a background client waits as long as the store lets its query run; a live one does not
        with pytest.raises(SinkUnavailable, match="not answering"):
            StoreBackend(settings.store_url(), timeout=0.3).query(HEAVY)
        slow = StoreBackend(background_dsn(settings.store_url()), timeout=0.3)
        assert slow.query(HEAVY).rows[0][0] > 0
        slow.close()

        with pytest.raises(SqlError, match="unknown lane 'bulk': use lane=background or none"):
            ClickHouseSink(settings.store_url() + "&lane=bulk").start().query("SELECT 1")
    finally:
        background.close()
        live.close()
        store.stop()
