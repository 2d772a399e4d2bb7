"""Invariant: the local panel answers only its own page, and a variable is a value, never SQL.

A real store process and the real panel server (run_local_view) on 127.0.0.1, real requests:
- a foreign `Host` (DNS rebinding) or a cross-site request gets 403 and runs no query;
- a variable's text reaches ClickHouse as exactly that text: a value that looks like a macro
  (`$__interval_s`) is not expanded, and one with quotes cannot end its literal.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import threading
import time
import urllib.parse
from collections.abc import Iterator

import orjson
import pytest

from touchline.dashboards.local.catalog import dashboard
from touchline.dashboards.local.view import run_local_view
from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.stack.services import free_port, start_store, wait_for_port

pytestmark = pytest.mark.integration

#: a tenant whose name looks like a Grafana macro; its rep touched three times this week
MACRO_TENANT = "t$__interval_s"
REP = "r-macro"


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The panel's port, over a store holding the macro-named tenant's activities."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("panel"),
                        clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    sink = ClickHouseSink(settings.store_url()).start()
    now = time.time()
    rows = [{"event_id": f"ev-{i}", "tenant": tenant, "type": "call", "occurred_at": now - 60,
             "ingested_at": now - 59, "rep_id": REP, "team_id": "team", "source": "test",
             "is_touch": 1, "channel": "call", "direction": "outbound"}
            for i, tenant in enumerate([MACRO_TENANT] * 3 + ["acme"] * 5)]
    sink.insert_json("activities", orjson.dumps(rows))
    port = free_port()
    loop = asyncio.new_event_loop()
    task: list[asyncio.Task] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        task.append(loop.create_task(run_local_view(sink, "127.0.0.1", port)))
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    wait_for_port(port, None, "the panel", 20)
    yield port
    loop.call_soon_threadsafe(task[0].cancel)
    thread.join(10)
    sink.close()
    store.stop()


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, orjson.loads(body) if body.startswith(b"{") else {}
    finally:
        conn.close()


def _touches_path(tenant: str, rep: str) -> str:
    board = dashboard("touchline-rep")
    index = next(p.index for p in board.panels if p.title == "Touches this week")
    return (f"/api/panel/touchline-rep/{index}?"
            + urllib.parse.urlencode({"tenant": tenant, "rep": rep}))


def test_foreign_host_and_cross_site_requests_are_refused(panel: int) -> None:
    path = _touches_path("acme", REP)
    assert _get(panel, path)[1]["rows"] == [[5]]
    for headers in ({"Host": f"rebound.example:{panel}"},
                    {"Host": "127.0.0.1:80"},
                    {"Origin": "http://evil.example"},
                    {"Sec-Fetch-Site": "cross-site"}):
        status, body = _get(panel, path, headers)
        assert status == 403, headers
        assert "rows" not in body
    # the page itself, fetched by its own script (same origin), is served
    same = {"Origin": f"http://127.0.0.1:{panel}", "Sec-Fetch-Site": "same-origin"}
    assert _get(panel, path, same)[1]["rows"] == [[5]]


def test_a_variable_is_a_value_never_sql(panel: int) -> None:
    # the tenant's own name, though it looks like a macro, selects its three touches
    assert _get(panel, _touches_path(MACRO_TENANT, REP))[1]["rows"] == [[3]]
    # quotes, backslashes and macro text cannot leave the literal: no tenant has these names
    for tenant in ["x' OR 1=1 OR tenant = '", "x\\' OR 1=1 --", "$__timeFilter(' OR 1=1 OR (')",
                   "acme' OR '1'='1"]:
        status, body = _get(panel, _touches_path(tenant, REP))
        assert status == 200, body
        assert body["rows"] == [[0]], tenant
