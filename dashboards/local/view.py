"""The local control panel: the Grafana dashboards' own panels, served as a live HTML page.

Where no Grafana runs (`touchline demo`), this serves the built dashboards (titles, SQL,
visualisation kind read back from the SDK output by `catalog`) with one server-side query
endpoint per panel; a small vanilla-JS page polls them every few seconds and draws stats,
tables and SVG charts. No CDN, nothing downloaded at run time.

- `GET /`                               the page (`?d=<dashboard uid>`)
- `GET /api/dashboards`                 dashboards, their variables and panels
- `GET /api/variables/{uid}?var=value`  variable options and the values in force
- `GET /api/panel/{uid}/{index}?var=v`  one panel's rows (macros and variables expanded)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from touchline.dashboards.local.catalog import CatalogDashboard, dashboard, dashboards
from touchline.dashboards.local.macros import ALL, MacroError, QueryContext, VariableValue, expand
from touchline.dashboards.local.one_on_one import add_routes as add_one_on_one_routes
from touchline.dashboards.local.page import PAGE
from touchline.dashboards.local.sqlcheck import expanded
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SinkUnavailable, SqlError
from touchline.sinks.store_auth import local_only

SINK_KEY = web.AppKey("sink", ClickHouseSink)
#: browsers poll this often (the page reads it from /api/dashboards)
REFRESH_S = 5


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _json(data: Any, status: int = 200) -> web.Response:
    body = orjson.dumps(data, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    return web.Response(body=body, status=status, content_type="application/json")


def default_variables(sink: ClickHouseSink, board: CatalogDashboard,
                      chosen: Mapping[str, VariableValue]) -> dict[str, VariableValue]:
    """Resolve the dashboard's variables in order.

    A chosen value is kept if valid; otherwise the default is All (for variables with All) or
    the first option.
    """
    values, _ = resolve_variables(sink, board, chosen)
    return values


def resolve_variables(sink: ClickHouseSink, board: CatalogDashboard,
                      chosen: Mapping[str, VariableValue]
                      ) -> tuple[dict[str, VariableValue], list[dict[str, Any]]]:
    """Values in force and, per variable, its options."""
    values: dict[str, VariableValue] = {}
    described = []
    ctx_now = QueryContext.last(3600)
    for var in board.variables:
        sql = expand(var.sql, QueryContext(ctx_now.time_from, ctx_now.time_to, 60, values))
        options = [str(r[0]) for r in sink.query(sql).rows]
        want = chosen.get(var.name)
        if want in (ALL, [ALL]) and var.include_all:
            value: VariableValue = ALL
        elif isinstance(want, str) and want in options:
            value = want
        elif isinstance(want, list) and want and all(w in options for w in want):
            value = want if var.multi else want[0]
        elif var.include_all:
            value = ALL
        else:
            value = options[0] if options else ""
        values[var.name] = value
        described.append({"name": var.name, "label": var.label, "options": options,
                          "include_all": var.include_all, "multi": var.multi, "value": value})
    return values, described


def _chosen(request: web.Request) -> dict[str, VariableValue]:
    out: dict[str, VariableValue] = {}
    for key in set(request.query.keys()):
        vals = request.query.getall(key)
        out[key] = vals[0] if len(vals) == 1 else list(vals)
    return out


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def _dashboards(request: web.Request) -> web.Response:
    return _json({"refresh_s": REFRESH_S, "dashboards": [{
        "uid": d.uid, "title": d.title, "time_from": d.time_from,
        "variables": [v.__dict__ for v in d.variables],
        "panels": [{"index": p.index, "title": p.title, "kind": p.kind, "unit": p.unit,
                    "description": p.description, "width": p.width, "height": p.height}
                   for p in d.panels]} for d in dashboards()]})


def _board(request: web.Request) -> CatalogDashboard:
    try:
        return dashboard(request.match_info["uid"])
    except KeyError as exc:
        raise web.HTTPNotFound(text="no such dashboard") from exc


async def _variables(request: web.Request) -> web.Response:
    board = _board(request)
    sink = request.app[SINK_KEY]
    try:
        values, described = await asyncio.to_thread(
            resolve_variables, sink, board, _chosen(request))
    except (SqlError, SinkUnavailable, MacroError) as exc:
        return _json({"error": str(exc)}, 503)
    return _json({"values": values, "variables": described})


async def _panel(request: web.Request) -> web.Response:
    board = _board(request)
    try:
        panel = board.panels[int(request.match_info["index"])]
    except (ValueError, IndexError) as exc:
        raise web.HTTPNotFound(text="no such panel") from exc
    sink = request.app[SINK_KEY]

    def run() -> dict[str, Any]:
        chosen = _chosen(request)
        # the page sends every variable; only a bare URL needs the variable queries
        values = (chosen if all(v.name in chosen for v in board.variables)
                  else default_variables(sink, board, chosen))
        result = sink.query(expanded(panel, values))
        return {"title": panel.title, "kind": panel.kind, "unit": panel.unit,
                "columns": result.columns, "types": result.types,
                "rows": [list(r) for r in result.rows]}

    try:
        return _json(await asyncio.to_thread(run))
    except (SqlError, SinkUnavailable, MacroError) as exc:
        return _json({"error": str(exc)}, 503)


def make_app(sink: ClickHouseSink, host: str = "127.0.0.1") -> web.Application:
    """The local control panel as an aiohttp application over a started sink.

    It answers only requests addressed to this machine's loopback names (or `host`) on its
    own port and refuses cross-site ones (sinks/store_auth.py): a page on another site, or
    one that rebinds its DNS name to 127.0.0.1, cannot read it or make it query.
    """
    app = web.Application(middlewares=[local_only((host,))])
    app[SINK_KEY] = sink
    app.router.add_get("/", _page)
    app.router.add_get("/api/dashboards", _dashboards)
    app.router.add_get("/api/variables/{uid}", _variables)
    app.router.add_get("/api/panel/{uid}/{index}", _panel)
    add_one_on_one_routes(app)
    return app


async def run_local_view(sink: ClickHouseSink, host: str, port: int) -> None:
    """Serve the local control panel until cancelled."""
    runner = web.AppRunner(make_app(sink, host), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
