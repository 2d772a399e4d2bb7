"""The store process: the query/insert API other processes use while it owns the engine."""

from __future__ import annotations

import datetime as dt
import http.client
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkUnavailable, SqlError
from touchline.sinks.read_lanes import QUICK_LANE, READERS_LANE
from touchline.sinks.reader_pool import BACKGROUND_NICE
from touchline.sinks.store_auth import AUTH_SCHEME, read_secret
from touchline.sinks.store_client import StoreBackend, background_dsn
from touchline.sinks.store_server import LANE_HEADER, SHARED_HEADER
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


def _running_probe(fragment: str) -> str:
    """A read that counts the store's statements running with `fragment` in their text."""
    return ("SELECT count() FROM system.processes "
            f"WHERE query LIKE '%{fragment}%' AND query NOT LIKE '%system.processes%'")


def _wait_running(settings: Settings, fragment: str, count: int = 1) -> None:
    """Wait until `count` statements with `fragment` in their text run in the store.

    Instead of sleeping a fixed time after starting them: on a loaded machine a thread may
    not have reached the store by then.
    """
    deadline = time.monotonic() + 30
    while _ask_for(settings, _running_probe(fragment))[2][0][0] < count:
        assert time.monotonic() < deadline, f"{count} reads of {fragment!r} never ran together"
        time.sleep(0.01)


def _ask_for(settings: Settings, sql: str) -> tuple[str, str, list]:
    """POST /query as a panel does: the lane that ran it, whether it joined a run, the rows."""
    conn = http.client.HTTPConnection("127.0.0.1", settings.clickhouse.store_port, timeout=60)
    secret = read_secret(settings.data_dir / "store.secret")
    try:
        conn.request("POST", "/query", body=orjson.dumps({"sql": sql}),
                     headers={"Authorization": AUTH_SCHEME + secret,
                              "Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
        return resp.headers[LANE_HEADER], resp.headers[SHARED_HEADER], orjson.loads(body)["rows"]
    finally:
        conn.close()


def _ask(settings: Settings, sql: str) -> str:
    """The lane the store ran `sql` on."""
    return _ask_for(settings, sql)[0]


def test_a_cheap_panel_does_not_wait_behind_heavy_reads(tmp_path):
    """A read of a shape known to be cheap runs on the quick lane while both readers are busy.

    Each shape's first read runs on the readers; once it ran within 50 ms, its reads (any
    numbers) run on the quick lane. While two heavy reads hold both readers, a known cheap
    shape answers before either ends, and an unknown one waits for one of them. A cheap shape
    that turns heavy runs once on the quick lane and is moved off it.
    """
    settings = Settings(data_dir=tmp_path, clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    cheap = "SELECT count() FROM system.one WHERE dummy < {}"
    grows = "SELECT max(cityHash64(toString(number))) FROM numbers({})"  # not HEAVY's shape
    try:
        assert [_ask(settings, cheap.format(n)) for n in (1, 2, 3)] == \
            [READERS_LANE, QUICK_LANE, QUICK_LANE]
        # the probe below runs while both readers are busy: known as cheap, it takes the quick lane
        assert [_ask(settings, _running_probe("numbers(")) for _ in range(2)] == \
            [READERS_LANE, QUICK_LANE]
        began = time.monotonic()
        assert [_ask(settings, HEAVY) for _ in range(2)] == [READERS_LANE, READERS_LANE]
        heavy_s = (time.monotonic() - began) / 2

        ended: list[float] = []  # when each heavy read's answer reached its thread
        heavy = [threading.Thread(target=lambda n=n: (_ask(settings, HEAVY + n),
                                                     ended.append(time.monotonic())))
                 for n in ("", " WHERE 1")]  # two texts: identical reads would share one run
        for t in heavy:
            t.start()
        _wait_running(settings, "numbers(", count=2)  # both readers run HEAVY (1 s or more)
        assert _ask(settings, cheap.format(7)) == QUICK_LANE
        assert ended == []  # answered while both heavy reads still ran
        assert _ask(settings, "SELECT 'a shape not seen yet'") == READERS_LANE
        answered = time.monotonic()
        for t in heavy:
            t.join()
        # it waited for a reader: a heavy read ended as it was answered, not most of a heavy
        # read later (its thread may take the answer a moment after this one's)
        assert min(ended) - answered < heavy_s / 2, (min(ended) - answered, heavy_s)

        assert [_ask(settings, grows.format(n)) for n in (10, 10)] == [READERS_LANE, QUICK_LANE]
        assert _ask(settings, grows.format(150_000_000)) == QUICK_LANE  # still known as cheap
        assert _ask(settings, grows.format(10)) == READERS_LANE  # its heavy run moved it off
    finally:
        store.stop()


def test_identical_reads_in_flight_share_one_run_until_a_write_is_answered(tmp_path):
    """Reads of the same text arriving while it runs get its answer; none joins across a write.

    After an insert (or DDL) has been answered, the same read starts a run of its own and sees
    the write, while the run begun before it answers its own reader without it.
    """
    settings = Settings(data_dir=tmp_path, clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    writer = StoreBackend(settings.store_url())
    slow = ("SELECT (SELECT count() FROM touchline.marks) AS marks, "
            "sum(cityHash64(toString(number))) AS h FROM numbers(150000000)")

    def start(out: list) -> threading.Thread:
        thread = threading.Thread(target=lambda: out.append(_ask_for(settings, slow)))
        thread.start()
        return thread

    try:
        writer.command("CREATE TABLE touchline.marks (a UInt8) ENGINE = MergeTree ORDER BY a")
        together: list = []
        for thread in [start(together) for _ in range(3)]:
            thread.join()
        assert sorted(shared for _, shared, _ in together) == ["no", "yes", "yes"]
        assert len({str(rows) for _, _, rows in together}) == 1
        hashed = together[0][2][0][1]
        assert together[0][2] == [[0, hashed]]

        for marks, write in ((1, lambda: writer.insert_json("touchline.marks", b'[{"a": 1}]')),
                             (2, lambda: writer.command("INSERT INTO touchline.marks VALUES (2)"))):
            before: list = []
            first = start(before)
            _wait_running(settings, "numbers(150000000)")  # the first read is running
            write()
            after: list = []
            second = [start(after) for _ in range(2)]
            for thread in (first, *second):
                thread.join()
            assert [(shared, rows) for _, shared, rows in before] == [("no", [[marks - 1, hashed]])]
            assert sorted((shared, str(rows)) for _, shared, rows in after) == \
                [("no", str([[marks, hashed]])), ("yes", str([[marks, hashed]]))]
    finally:
        writer.close()
        store.stop()
