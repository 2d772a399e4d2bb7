"""A Grafana HTTP API on 127.0.0.1 for `touchline dashboards push` tests (no Grafana runs here).

A real aiohttp server that answers the endpoints push uses the way Grafana 11 documents them
(HTTP API reference: folders, data sources, dashboards, alerting provisioning) and keeps what it
is sent, so a test sees what a Grafana would hold:

- every request needs `Authorization: Bearer <token>` (401 otherwise), bodies are JSON;
- required fields are checked (a data source's name/type/access, a dashboard's title, a rule's
  title/condition/data/for/noDataState/execErrState, a contact point's name/type/settings, the
  policy tree's receiver), and references must exist: a dashboard's folder, a rule group's
  folder and each query's data source, every receiver the policy tree names;
- objects get Grafana's own fields (ids, versions, `updated`, provenance, secure fields hidden),
  and every stored change bumps the object's version, so a test can tell "written again" from
  "left alone".
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from touchline.stack.services import free_port

Handler = Callable[[web.Request], Awaitable[web.Response]]
DEFAULT_RECEIVER = "grafana-default-email"
EXPRESSION_UID = "__expr__"
RULE_REQUIRED = ("title", "condition", "data", "for", "noDataState", "execErrState")
#: the parsed JSON body of a POST/PUT
BODY = web.RequestKey("body", dict)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


class GrafanaState:
    """What the server holds, by kind and uid; `writes` lists every accepted change."""

    def __init__(self) -> None:
        self.datasources: dict[str, dict] = {}
        self.folders: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}
        self.rule_groups: dict[tuple[str, str], dict] = {}
        self.contact_points: dict[str, dict] = {}
        self.policies: dict[str, Any] = {"receiver": DEFAULT_RECEIVER,
                                         "group_by": ["grafana_folder", "alertname"]}
        self.policies_version = 0
        self.writes: list[str] = []
        self._ids = 0

    def next_id(self) -> int:
        """Grafana's numeric ids."""
        self._ids += 1
        return self._ids

    def snapshot(self) -> dict[str, Any]:
        """Everything held, for before/after comparisons."""
        return copy.deepcopy({
            "datasources": self.datasources, "folders": self.folders,
            "dashboards": self.dashboards, "rule_groups": self.rule_groups,
            "contact_points": self.contact_points, "policies": self.policies,
            "policies_version": self.policies_version})


def make_app(state: GrafanaState, token: str) -> web.Application:
    """The API app over `state`, accepting only `token`."""

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return _error(401, "Unauthorized")
        if request.method in ("POST", "PUT"):
            if request.content_type != "application/json":
                return _error(415, f"expected application/json, got {request.content_type}")
            try:
                request[BODY] = await request.json()
            except ValueError:
                return _error(400, "bad request data")
            if not isinstance(request[BODY], dict):
                return _error(400, "bad request data: expected an object")
        return await handler(request)

    # -- data sources -----------------------------------------------------------------------
    def _public_datasource(ds: dict) -> dict:
        shown = {k: v for k, v in ds.items() if k != "secureJsonData"}
        shown["secureJsonFields"] = {k: True for k in ds.get("secureJsonData", {})}
        return shown

    def _check_datasource(body: dict) -> str:
        missing = [k for k in ("name", "type", "access") if not body.get(k)]
        return f"missing required fields: {', '.join(missing)}" if missing else ""

    async def get_datasource(request: web.Request) -> web.Response:
        ds = state.datasources.get(request.match_info["uid"])
        if ds is None:
            return _error(404, "Data source not found")
        return web.json_response(_public_datasource(ds))

    async def create_datasource(request: web.Request) -> web.Response:
        body = request[BODY]
        if problem := _check_datasource(body):
            return _error(400, problem)
        uid = body.get("uid") or f"ds{state.next_id()}"
        if uid in state.datasources or any(d["name"] == body["name"]
                                           for d in state.datasources.values()):
            return _error(409, "data source with the same name or uid already exists")
        ds = {**body, "uid": uid, "id": state.next_id(), "orgId": 1, "version": 1}
        state.datasources[uid] = ds
        state.writes.append(f"POST datasource {uid}")
        return web.json_response({"datasource": _public_datasource(ds), "id": ds["id"],
                                  "message": "Datasource added", "name": ds["name"]})

    async def update_datasource(request: web.Request) -> web.Response:
        uid, body = request.match_info["uid"], request[BODY]
        current = state.datasources.get(uid)
        if current is None:
            return _error(404, "Data source not found")
        if problem := _check_datasource(body):
            return _error(400, problem)
        state.datasources[uid] = {**body, "uid": uid, "id": current["id"], "orgId": 1,
                                  "version": current["version"] + 1}
        state.writes.append(f"PUT datasource {uid}")
        return web.json_response({"message": "Datasource updated", "id": current["id"]})

    # -- folders ----------------------------------------------------------------------------
    async def get_folder(request: web.Request) -> web.Response:
        folder = state.folders.get(request.match_info["uid"])
        return web.json_response(folder) if folder else _error(404, "folder not found")

    async def create_folder(request: web.Request) -> web.Response:
        body = request[BODY]
        if not body.get("title"):
            return _error(400, "folder title cannot be empty")
        uid = body.get("uid") or f"f{state.next_id()}"
        if uid in state.folders:
            return _error(409, "a folder with the same uid already exists")
        state.folders[uid] = {"uid": uid, "title": body["title"], "id": state.next_id(),
                              "version": 1}
        state.writes.append(f"POST folder {uid}")
        return web.json_response(state.folders[uid])

    async def update_folder(request: web.Request) -> web.Response:
        uid, body = request.match_info["uid"], request[BODY]
        folder = state.folders.get(uid)
        if folder is None:
            return _error(404, "folder not found")
        if not body.get("title"):
            return _error(400, "folder title cannot be empty")
        if not body.get("overwrite") and body.get("version") != folder["version"]:
            return _error(412, "the folder has been changed by someone else")
        folder.update(title=body["title"], version=folder["version"] + 1)
        state.writes.append(f"PUT folder {uid}")
        return web.json_response(folder)

    # -- dashboards -------------------------------------------------------------------------
    async def save_dashboard(request: web.Request) -> web.Response:
        body = request[BODY]
        dashboard = body.get("dashboard")
        if not isinstance(dashboard, dict) or not dashboard.get("title"):
            return _error(400, "Dashboard title cannot be empty")
        folder_uid = body.get("folderUid", "")
        if folder_uid and folder_uid not in state.folders:
            return _error(400, "folder not found")
        uid = dashboard.get("uid") or f"d{state.next_id()}"
        current = state.dashboards.get(uid)
        if current and not body.get("overwrite") and \
                dashboard.get("version") != current["dashboard"]["version"]:
            return _error(412, "The dashboard has been changed by someone else")
        version = current["dashboard"]["version"] + 1 if current else 1
        dash_id = current["dashboard"]["id"] if current else state.next_id()
        stored = {**dashboard, "uid": uid, "id": dash_id, "version": version}
        state.dashboards[uid] = {"dashboard": stored,
                                 "meta": {"folderUid": folder_uid, "version": version,
                                          "provisioned": False}}
        state.writes.append(f"POST dashboard {uid}")
        return web.json_response({"id": dash_id, "uid": uid, "status": "success",
                                  "version": version, "url": f"/d/{uid}"})

    async def get_dashboard(request: web.Request) -> web.Response:
        found = state.dashboards.get(request.match_info["uid"])
        return web.json_response(found) if found else _error(404, "Dashboard not found")

    # -- alert rule groups ------------------------------------------------------------------
    def _check_rules(folder_uid: str, group: str, body: dict) -> str:
        if not isinstance(body.get("interval"), int) or body["interval"] <= 0 or \
                body["interval"] % 10:
            return "interval must be a positive multiple of 10 seconds"
        rules = body.get("rules")
        if not isinstance(rules, list) or not rules:
            return "a rule group needs rules"
        for rule in rules:
            missing = [k for k in RULE_REQUIRED if rule.get(k) in (None, "", [])]
            if missing:
                return f"rule {rule.get('title')!r}: missing {', '.join(missing)}"
            if rule.get("folderUID", folder_uid) != folder_uid or \
                    rule.get("ruleGroup", group) != group:
                return f"rule {rule['title']!r} names another folder or group"
            ref_ids = {q.get("refId") for q in rule["data"]}
            if rule["condition"] not in ref_ids:
                return f"rule {rule['title']!r}: condition {rule['condition']} is no refId"
            for query in rule["data"]:
                ds = query.get("datasourceUid")
                if ds != EXPRESSION_UID and ds not in state.datasources:
                    return f"rule {rule['title']!r}: data source {ds!r} not found"
                if "model" not in query:
                    return f"rule {rule['title']!r}: query {query.get('refId')} has no model"
        return ""

    async def get_rule_group(request: web.Request) -> web.Response:
        key = (request.match_info["folder"], request.match_info["group"])
        found = state.rule_groups.get(key)
        return web.json_response(found) if found else _error(404, "rule group does not exist")

    async def put_rule_group(request: web.Request) -> web.Response:
        folder_uid, group = request.match_info["folder"], request.match_info["group"]
        body = request[BODY]
        if folder_uid not in state.folders:
            return _error(404, "folder does not exist")
        if problem := _check_rules(folder_uid, group, body):
            return _error(400, problem)
        current = state.rule_groups.get((folder_uid, group))
        version = current["version"] + 1 if current else 1
        rules = [{**r, "uid": r.get("uid") or f"r{state.next_id()}", "id": state.next_id(),
                  "orgID": 1, "folderUID": folder_uid, "ruleGroup": group,
                  "updated": f"v{version}", "provenance": "api"} for r in body["rules"]]
        state.rule_groups[(folder_uid, group)] = {**body, "title": group,
                                                  "folderUid": folder_uid, "rules": rules,
                                                  "version": version}
        state.writes.append(f"PUT rule_group {group}")
        return web.json_response(state.rule_groups[(folder_uid, group)])

    # -- contact points ---------------------------------------------------------------------
    def _check_contact_point(body: dict) -> str:
        missing = [k for k in ("name", "type", "settings") if not body.get(k)]
        if missing:
            return f"missing {', '.join(missing)}"
        if body["type"] == "email" and not body["settings"].get("addresses"):
            return "email contact point: could not find addresses in settings"
        return ""

    async def list_contact_points(request: web.Request) -> web.Response:
        name = request.query.get("name")
        return web.json_response([cp for cp in state.contact_points.values()
                                  if name is None or cp["name"] == name])

    async def create_contact_point(request: web.Request) -> web.Response:
        body = request[BODY]
        if problem := _check_contact_point(body):
            return _error(400, problem)
        uid = body.get("uid") or f"cp{state.next_id()}"
        if uid in state.contact_points:
            return _error(409, "a contact point with this uid already exists")
        state.contact_points[uid] = {**body, "uid": uid, "provenance": "api", "version": 1}
        state.writes.append(f"POST contact_point {uid}")
        return web.json_response(state.contact_points[uid], status=202)

    async def update_contact_point(request: web.Request) -> web.Response:
        uid, body = request.match_info["uid"], request[BODY]
        current = state.contact_points.get(uid)
        if current is None:
            return _error(404, "contact point not found")
        if problem := _check_contact_point(body):
            return _error(400, problem)
        state.contact_points[uid] = {**body, "uid": uid, "provenance": "api",
                                     "version": current["version"] + 1}
        state.writes.append(f"PUT contact_point {uid}")
        return web.json_response({"message": "contactpoint updated"}, status=202)

    # -- notification policies --------------------------------------------------------------
    def _receivers(route: dict) -> list[str]:
        names = [route["receiver"]] if route.get("receiver") else []
        for child in route.get("routes", []):
            names += _receivers(child)
        return names

    async def get_policies(request: web.Request) -> web.Response:
        return web.json_response(state.policies)

    async def put_policies(request: web.Request) -> web.Response:
        body = request[BODY]
        if not body.get("receiver"):
            return _error(400, "the root route needs a receiver")
        known = {cp["name"] for cp in state.contact_points.values()} | {DEFAULT_RECEIVER}
        unknown = sorted(set(_receivers(body)) - known)
        if unknown:
            return _error(400, f"receiver {unknown[0]!r} does not exist")
        state.policies = body
        state.policies_version += 1
        state.writes.append("PUT policy_tree")
        return web.json_response({"message": "policies updated"}, status=202)

    app = web.Application(middlewares=[auth])
    app.router.add_get("/api/datasources/uid/{uid}", get_datasource)
    app.router.add_post("/api/datasources", create_datasource)
    app.router.add_put("/api/datasources/uid/{uid}", update_datasource)
    app.router.add_get("/api/folders/{uid}", get_folder)
    app.router.add_post("/api/folders", create_folder)
    app.router.add_put("/api/folders/{uid}", update_folder)
    app.router.add_post("/api/dashboards/db", save_dashboard)
    app.router.add_get("/api/dashboards/uid/{uid}", get_dashboard)
    groups = "/api/v1/provisioning/folder/{folder}/rule-groups/{group}"
    app.router.add_get(groups, get_rule_group)
    app.router.add_put(groups, put_rule_group)
    app.router.add_get("/api/v1/provisioning/contact-points", list_contact_points)
    app.router.add_post("/api/v1/provisioning/contact-points", create_contact_point)
    app.router.add_put("/api/v1/provisioning/contact-points/{uid}", update_contact_point)
    app.router.add_get("/api/v1/provisioning/policies", get_policies)
    app.router.add_put("/api/v1/provisioning/policies", put_policies)
    return app


class GrafanaServer:
    """The API served on 127.0.0.1 from a thread of its own (push's client is synchronous)."""

    def __init__(self, token: str) -> None:
        self.state = GrafanaState()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._app = make_app(self.state, token)
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> GrafanaServer:
        """Listen; returns once the port accepts connections."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        """Close the server and its loop."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
