"""`touchline store`: the one process that owns the embedded ClickHouse directory.

chdb allows one process per data directory, so in embedded mode this process opens it and
every other process (workers, `touchline query`, the local panel) reaches the same data over a
small HTTP API on 127.0.0.1 (sinks/clickhouse.py `StoreBackend` is its client):

- `POST /query`   {"sql", "parameters"} -> {"columns", "types", "rows"}: always read-only, on
  reader sessions apart from the writer's (whatever a client sends as "readonly");
  `?lane=background` (the Coach pass) runs it on the background reader instead; a panel's
  read of a shape known to be cheap runs on the quick lane (sinks/read_lanes.py); the
  `X-Touchline-Lane` header of the answer says which lane ran it; a read that arrives while
  the same read runs, with no write answered since, shares that run (sinks/shared_reads.py;
  `X-Touchline-Shared: yes`)
- `POST /query_raw` {"sql", "parameters", "format", "database"} -> the engine's bytes in that
  format (SQL typed by a user: run read-only, `database` as the default one)
- `POST /insert?table=db.t&token=...`  body: an Arrow IPC stream -> inserted as one block
  (`&format=json`: a JSON array of row objects, parsed by ClickHouse as JSONEachRow)
- `POST /command` body: SQL (DDL)
- `GET  /ping`
- `POST /outage?seconds=N` (only with `allow_fault_injection`): answer 503 to inserts and
  queries for N seconds, to test that workers back off and lose nothing.

Every request must carry the stack's secret (`Authorization: Bearer`, sinks/store_auth.py), a
loopback `Host` with this port, no cross-site marks, and a non-form content type. Inserts and
DDL run one at a time on the writer's session; reads run on two reader threads of their own,
bounded by max_execution_time, so a slow read never holds an insert back. The background lane
is one more reader thread whose queries run at a lower CPU priority (sinks/reader_pool.py):
long periodic reads (a Coach pass over a year of history) take the
CPU the live inserts and the panels leave, and never queue in front of a panel. The quick lane
is two more reader threads for reads whose statement shape ran within 50 ms before, so a cheap
panel does not wait behind the heavy ones its dashboard asked for at the same moment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import orjson
import pyarrow as pa
from aiohttp import web

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkUnavailable, SqlError
from touchline.sinks.read_lanes import QUICK_LANE, READERS_LANE, ReadCosts
from touchline.sinks.shared_reads import SharedReads
from touchline.sinks.store_auth import (
    ensure_secret,
    local_only,
    read_secret,
    secret_required,
)
from touchline.sinks.store_client import BACKGROUND_LANE, encode_result

if TYPE_CHECKING:
    from touchline.settings import Settings

log = logging.getLogger(__name__)


#: reader threads (each with its own read-only engine session)
READER_THREADS = 2
#: reader threads of the quick lane (reads of shapes known to be cheap)
QUICK_THREADS = 2
#: the answer's header naming the lane that ran a query
LANE_HEADER = "X-Touchline-Lane"
#: the answer's header saying whether the read joined the same read already running
SHARED_HEADER = "X-Touchline-Shared"


def make_app(sink: ClickHouseSink, secret: str,
             allow_fault_injection: bool = False) -> web.Application:
    """The store's HTTP app around a started sink that owns the engine; `secret` is required."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chdb")
    readers = ThreadPoolExecutor(max_workers=READER_THREADS, thread_name_prefix="chdb-read")
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chdb-background",
                                    initializer=sink.backend.mark_background_reader)
    quick = ThreadPoolExecutor(max_workers=QUICK_THREADS, thread_name_prefix="chdb-quick")
    lanes = {READERS_LANE: readers, QUICK_LANE: quick, BACKGROUND_LANE: background}
    costs = ReadCosts()
    reads = SharedReads()
    outage_until = [0.0]

    async def run(fn, *args, pool: ThreadPoolExecutor = executor):
        if time.monotonic() < outage_until[0]:
            raise SinkUnavailable("injected outage: ClickHouse is unavailable")
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def write(fn, *args):
        try:
            return await run(fn, *args)
        finally:  # answered or failed: later reads must not join a run begun before it
            reads.wrote()

    def failure(exc: Exception) -> web.Response:
        status = 503 if isinstance(exc, SinkUnavailable) else 400
        return web.json_response({"error": str(exc)}, status=status)

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "dsn": sink.dsn})

    def timed_query(sql: str, parameters: dict | None, spent: list[float]) -> object:
        started = time.perf_counter()
        try:
            return sink.query(sql, parameters, True)
        finally:  # a read cut short or refused costs its time too
            spent.append((time.perf_counter() - started) * 1000)

    async def read(asked: str, sql: str, parameters: dict | None) -> tuple[bytes, str]:
        lane = asked or costs.lane(sql)
        spent: list[float] = []
        try:
            result = await run(timed_query, sql, parameters, spent, pool=lanes[lane])
        finally:
            if spent and not asked:
                costs.record(sql, spent[0])
        return encode_result(result), lane

    async def query(request: web.Request) -> web.Response:
        asked = request.query.get("lane", "")
        if asked not in ("", BACKGROUND_LANE):
            return failure(SqlError(f"unknown lane {asked!r}: use lane={BACKGROUND_LANE} or none"))
        try:
            doc = orjson.loads(await request.read())
            sql, parameters = doc["sql"], doc.get("parameters") or None
            key = (asked, sql, orjson.dumps(parameters, option=orjson.OPT_SORT_KEYS))
            (body, lane), joined = await reads.run(key, lambda: read(asked, sql, parameters))
        except (SqlError, SinkUnavailable) as exc:
            return failure(exc)
        except (ValueError, KeyError, TypeError) as exc:
            return failure(SqlError(f"bad query request: {exc}"))
        return web.Response(body=body, content_type="application/json",
                            headers={LANE_HEADER: lane, SHARED_HEADER: "yes" if joined else "no"})

    async def query_raw(request: web.Request) -> web.Response:
        try:
            doc = orjson.loads(await request.read())
            data = await run(sink.backend.query_raw, doc["sql"], doc.get("parameters") or None,
                             doc.get("format") or None, doc.get("database") or sink.database,
                             pool=readers)
        except (SqlError, SinkUnavailable) as exc:
            return failure(exc)
        except (ValueError, KeyError) as exc:
            return failure(SqlError(f"bad query request: {exc}"))
        return web.Response(body=data, content_type="application/octet-stream")

    async def insert(request: web.Request) -> web.Response:
        table = request.query.get("table", "")
        token = request.query.get("token") or None
        if request.query.get("format") == "json":
            try:
                body = await request.read()
                await write(sink.backend.insert_json, table, body, token)
            except (SqlError, SinkUnavailable) as exc:
                return failure(exc)
            return web.json_response({"bytes": len(body)})
        try:
            data = pa.ipc.open_stream(await request.read()).read_all()
            await write(sink.backend.insert_arrow, table, data, token)
        except (SqlError, SinkUnavailable) as exc:
            return failure(exc)
        except pa.ArrowInvalid as exc:
            return failure(SqlError(f"bad Arrow body: {exc}"))
        return web.json_response({"rows": data.num_rows})

    async def command(request: web.Request) -> web.Response:
        try:
            await write(sink.command, (await request.read()).decode())
        except (SqlError, SinkUnavailable) as exc:
            return failure(exc)
        return web.json_response({"ok": True})

    async def outage(request: web.Request) -> web.Response:
        seconds = float(request.query.get("seconds", "60"))
        outage_until[0] = time.monotonic() + seconds
        log.warning("fault injection: outage for %.0fs", seconds)
        return web.json_response({"outage_s": seconds})

    app = web.Application(client_max_size=256 * 1024 * 1024, middlewares=[
        local_only(), secret_required(secret)])
    app.router.add_get("/ping", ping)
    app.router.add_post("/query", query)
    app.router.add_post("/query_raw", query_raw)
    app.router.add_post("/insert", insert)
    app.router.add_post("/command", command)
    if allow_fault_injection:
        app.router.add_post("/outage", outage)
    app.on_cleanup.append(lambda _app: asyncio.to_thread(executor.shutdown))
    for pool in (readers, quick, background):
        app.on_cleanup.append(
            lambda _app, pool=pool: asyncio.to_thread(pool.shutdown, cancel_futures=True))
    return app


def serve(sink: ClickHouseSink, port: int, secret: str,
          allow_fault_injection: bool = False) -> None:
    """Run the store until SIGINT/SIGTERM; the engine is closed (unlocked) on the way out."""
    if not secret:
        raise SinkUnavailable("the store needs a secret: run it through `touchline store`")
    sink.start()
    sink.ensure_schema()
    try:
        web.run_app(make_app(sink, secret, allow_fault_injection), host="127.0.0.1",
                    port=port, print=None, access_log=None, handle_signals=True,
                    shutdown_timeout=5)
    finally:
        sink.close()


def run_store(settings: Settings, allow_fault_injection: bool = False) -> None:
    """`touchline store`: own the data directory, with the stack's secret (created if missing)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = read_secret(ensure_secret(settings.data_dir))
    sink = ClickHouseSink(settings.clickhouse_dsn(), settings.clickhouse.database,
                          read_timeout_s=settings.clickhouse.read_timeout_s)
    serve(sink, settings.clickhouse.store_port, secret, allow_fault_injection)
