"""Invariant: only the stack's own processes can use the store, and a read stays a read.

Against a real `touchline store` process and real HTTP requests:
- without the stack's secret, with a foreign `Host` (DNS rebinding), from another origin, or
  with a content type an HTML form can send, the store refuses and nothing changes;
- `/query` is read-only whatever the client sends, a refused statement leaves the writer's
  session able to insert (it used to poison the store: every later insert failed);
- a read-only query reaches no file, no URL and changes no setting, through the store and on
  the engine opened directly (the `touchline query` path when no store runs);
- a slow read does not hold an insert back, and it is cut at max_execution_time.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from aiohttp import web

from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SqlError
from touchline.sinks.store_auth import read_secret, secret_path
from touchline.stack.services import Service, free_port, start_store

pytestmark = pytest.mark.integration

PROBE_TABLE = "touchline.probe"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Service]]:
    """A store of its own, with a 2 s read timeout and a probe table."""
    data = tmp_path_factory.mktemp("store")
    settings = Settings(data_dir=data, clickhouse=ClickHouseSettings(
        store_port=free_port(), read_timeout_s=2))
    service = start_store(settings)
    sink = ClickHouseSink(settings.store_url()).start()
    sink.command(f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (x UInt32) ENGINE = MergeTree "
                 "ORDER BY x")
    sink.close()
    yield settings, service
    service.stop()


@pytest.fixture
def sink(store: tuple[Settings, Service]) -> Iterator[ClickHouseSink]:
    """A client of the store with the stack's secret (as the stack's processes have it)."""
    client = ClickHouseSink(store[0].store_url()).start()
    yield client
    client.close()


class _Receiver:
    """A real HTTP server on 127.0.0.1 that counts the requests it gets (url() would hit it)."""

    def __init__(self) -> None:
        self.hits = 0
        self.port = free_port()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        async def any_path(request: web.Request) -> web.Response:
            self.hits += 1
            return web.Response(text="secret-from-the-network")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", any_path)
        web.run_app(app, host="127.0.0.1", port=self.port, print=None, handle_signals=False,
                    access_log=None)

    def start(self) -> _Receiver:
        self._thread.start()
        from touchline.stack.services import wait_for_port

        wait_for_port(self.port, None, "receiver", 10)
        return self


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _tables(sink: ClickHouseSink) -> set[str]:
    return {r[0] for r in sink.query(
        "SELECT name FROM system.tables WHERE database = 'touchline'").rows}


def test_callers_without_the_secret_or_from_a_browser_change_nothing(store, sink) -> None:
    settings, _ = store
    port = settings.clickhouse.store_port
    secret = read_secret(secret_path(settings.data_dir))
    assert len(secret) >= 32
    assert secret_path(settings.data_dir).stat().st_mode & 0o777 == 0o600
    good = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {secret}"}
    before = _tables(sink)
    ddl = b"CREATE TABLE touchline.planted (x UInt8) ENGINE = Memory"
    arrow = pa.BufferOutputStream()
    with pa.ipc.new_stream(arrow, pa.schema([("x", pa.uint32())])) as writer:
        writer.write_table(pa.table({"x": pa.array([7], pa.uint32())}))
    forged = arrow.getvalue().to_pybytes()
    attempts = [
        # a page's cross-origin "simple" POST: no secret, text/plain
        ("/command", ddl, {"Host": f"127.0.0.1:{port}", "Content-Type": "text/plain",
                           "Origin": "http://evil.example"}, 403),
        ("/command", ddl, {"Host": f"127.0.0.1:{port}", "Content-Type": "text/plain"}, 401),
        ("/command", ddl, {**good, "Host": f"127.0.0.1:{port}"}, 415),  # no content type
        ("/command", ddl, {**good, "Content-Type": "text/plain"}, 415),
        ("/command", ddl, {**good, "Content-Type": "application/sql",
                           "Host": f"rebound.example:{port}"}, 403),
        ("/command", ddl, {**good, "Content-Type": "application/sql",
                           "Origin": "http://evil.example"}, 403),
        ("/command", ddl, {**good, "Content-Type": "application/sql",
                           "Sec-Fetch-Site": "cross-site"}, 403),
        ("/command", ddl, {"Host": f"127.0.0.1:{port}", "Content-Type": "application/sql",
                           "Authorization": "Bearer wrong"}, 401),
        (f"/insert?table={PROBE_TABLE}", forged,
         {"Host": f"127.0.0.1:{port}", "Content-Type": "application/vnd.apache.arrow.stream"},
         401),
        ("/query", orjson.dumps({"sql": "SELECT 1"}),
         {"Host": f"localhost.evil.example:{port}", "Content-Type": "application/json"}, 403),
    ]
    for path, body, headers, status in attempts:
        got, text = _post(port, path, body, headers)
        assert got == status, (path, headers, got, text)
    assert _tables(sink) == before
    assert sink.query(f"SELECT count() FROM {PROBE_TABLE} WHERE x = 7").scalar() == 0
    # the stack's own client, with the secret, is served
    sink.insert("probe", pa.table({"x": pa.array([7], pa.uint32())}))
    assert sink.query(f"SELECT count() FROM {PROBE_TABLE} WHERE x = 7").scalar() == 1


def test_query_is_read_only_whatever_the_client_sends(store, sink) -> None:
    settings, _ = store
    port = settings.clickhouse.store_port
    secret = read_secret(secret_path(settings.data_dir))
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    before = _tables(sink)
    for sql in ["CREATE TABLE touchline.t (x UInt8) ENGINE = Memory",
                f"INSERT INTO {PROBE_TABLE} VALUES (99)",
                f"DROP TABLE {PROBE_TABLE}",
                "SELECT 1; DROP TABLE touchline.probe"]:
        status, text = _post(port, "/query", orjson.dumps(
            {"sql": sql, "parameters": {}, "readonly": False}), headers)
        assert status == 400, (sql, text)
        with pytest.raises(SqlError):
            sink.query(sql)
    assert _tables(sink) == before
    assert sink.query(f"SELECT count() FROM {PROBE_TABLE} WHERE x = 99").scalar() == 0
    # the refusals left the writer's session alone: inserts still go in
    sink.insert("probe", pa.table({"x": pa.array([1001, 1002], pa.uint32())}))
    assert sink.query(f"SELECT count() FROM {PROBE_TABLE} WHERE x > 1000").scalar() == 2


TABLE_FUNCTION_READS = [
    "SELECT * FROM file('{secret_file}', 'RawBLOB')",
    "SELECT * FROM url('http://127.0.0.1:{port}/x', 'RawBLOB')",
    "SELECT count() FROM (SELECT 1) AS a JOIN url('http://127.0.0.1:{port}/y', 'RawBLOB') "
    "AS b ON 1",
    "SELECT 1 WHERE 1 IN (SELECT length(raw_blob) FROM URL('http://127.0.0.1:{port}/z', "
    "'RawBLOB'))",
    "INSERT INTO FUNCTION file('{written}', 'RawBLOB') SELECT 'planted'",
    "SELECT 'planted' INTO OUTFILE '{written}'",
    "SELECT 1 SETTINGS max_execution_time = 0",
    "SELECT 1; SELECT * FROM file('{secret_file}', 'RawBLOB')",
]


def _refuses_every_escape(sink: ClickHouseSink, tmp_path: Path, receiver: _Receiver) -> None:
    secret_file = tmp_path / "host-secret.txt"
    secret_file.write_text("host-only")
    written = tmp_path / "planted.txt"
    for template in TABLE_FUNCTION_READS:
        sql = template.format(secret_file=secret_file, port=receiver.port, written=written)
        with pytest.raises(SqlError) as refused:
            sink.query(sql)
        assert "host-only" not in str(refused.value)
        with pytest.raises(SqlError):
            sink.query_raw(sql, fmt="TabSeparated")
    assert receiver.hits == 0
    assert not written.exists()
    # what readers are for still works: table functions that only compute, EXPLAIN's options
    assert sink.query("SELECT sum(number) FROM numbers(4)").scalar() == 6
    assert sink.query("EXPLAIN indexes = 1 SELECT count() FROM touchline.activities "
                      "WHERE tenant = 'a'").rows


def test_read_only_queries_reach_no_file_and_no_network_through_the_store(
        store, sink, tmp_path) -> None:
    _refuses_every_escape(sink, tmp_path, _Receiver().start())


def test_read_only_queries_reach_no_file_and_no_network_on_the_engine_itself(tmp_path) -> None:
    engine = ClickHouseSink(f"chdb://{tmp_path / 'ch'}").start()
    try:
        engine.ensure_schema()
        _refuses_every_escape(engine, tmp_path, _Receiver().start())
        engine.insert("pipeline_metrics", pa.table({}))  # no rows: nothing to do
        engine.command(f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (x UInt32) "
                       "ENGINE = MergeTree ORDER BY x")
        engine.insert("probe", pa.table({"x": pa.array([5], pa.uint32())}))
        assert engine.query(f"SELECT count() FROM {PROBE_TABLE}").scalar() == 1
    finally:
        engine.close()


def test_a_slow_read_does_not_hold_inserts_and_is_cut_at_the_read_timeout(store, sink) -> None:
    reader = ClickHouseSink(store[0].store_url()).start()
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(reader.query, "SELECT count() FROM system.numbers")
        inserted_while_reading = 0
        for i in range(20):  # each insert returns while the read still runs
            sink.insert("probe", pa.table({"x": pa.array([5000 + i], pa.uint32())}))
            if not slow.done():
                inserted_while_reading += 1
        assert inserted_while_reading >= 10
        with pytest.raises(SqlError, match="TIMEOUT_EXCEEDED|Timeout exceeded"):
            slow.result(60)
    reader.close()
    assert sink.query(f"SELECT count() FROM {PROBE_TABLE} WHERE x >= 5000").scalar() == 20
