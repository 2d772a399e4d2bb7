"""`touchline dashboards push`: send everything to a running Grafana through its HTTP API.

Uses grafana-client (the maintained successor of grafana-api, which has no alerting
provisioning API). `plan()` builds every request body first (pure, unit-tested), `push()` sends
them in dependency order: datasource, folder, dashboards, rule groups, contact points, policy
tree, each only when Grafana's copy differs (a second run changes nothing). Unlike file
provisioning, the API does not expand `$VAR`, so env references in the datasource and contact
point settings are resolved here, from this process's environment.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from touchline.dashboards import alerts
from touchline.dashboards.build import DASHBOARDS
from touchline.dashboards.panels import to_json
from touchline.dashboards.provisioning_files import (
    as_json,
    datasource_model,
    rule_groups_json,
)

_ENV = re.compile(r"\$\{(\w+)\}|\$(\w+)")


class PushError(RuntimeError):
    """Something the push cannot do (missing env value, Grafana refused a request)."""


@dataclass(frozen=True)
class Step:
    """One request: what it is, and the body it sends."""

    kind: str  # datasource | folder | dashboard | rule_group | contact_point | policy_tree
    key: str
    payload: dict[str, Any]


def resolve_env(value: Any, env: Mapping[str, str]) -> Any:
    """Replace `$NAME` / `${NAME}` in every string of a JSON value; missing names are errors."""
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            if name not in env:
                raise PushError(f"set {name} in the environment (used by the Grafana payload)")
            return env[name]

        return _ENV.sub(repl, value)
    if isinstance(value, list):
        return [resolve_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: resolve_env(v, env) for k, v in value.items()}
    return value


def plan(env: Mapping[str, str] | None = None, clickhouse_host: str = "clickhouse",
         clickhouse_port: int = 9000) -> list[Step]:
    """Every request body, in the order they must be sent."""
    from touchline.dashboards import notifications

    env = os.environ if env is None else env
    ds = copy.deepcopy(datasource_model())
    ds["jsonData"].update(host=clickhouse_host, port=clickhouse_port)
    steps = [
        Step("datasource", ds["uid"], resolve_env(ds, env)),
        Step("folder", alerts.FOLDER_UID, {"uid": alerts.FOLDER_UID, "title": alerts.FOLDER_TITLE}),
    ]
    for uid, make in DASHBOARDS.items():
        steps.append(Step("dashboard", uid, {
            "dashboard": json.loads(to_json(make())), "folderUid": alerts.FOLDER_UID,
            "overwrite": True, "message": "touchline dashboards push"}))
    for group in rule_groups_json():
        steps.append(Step("rule_group", group["title"], group))
    for cp in notifications.contact_points():
        body = resolve_env(as_json(cp), env)
        steps.append(Step("contact_point", body["uid"], body))
    steps.append(Step("policy_tree", "root", as_json(notifications.notification_policy())))
    return steps


def contains(actual: Any, expected: Any) -> bool:
    """True when Grafana's copy `actual` holds everything `expected` (what push sends) says.

    Grafana adds fields of its own (ids, versions, `updated`, provenance, query defaults), so
    dicts compare by the keys push sends; a key sent as null may be absent. Lists compare
    item by item.
    """
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            (actual.get(k) is None) if v is None else (k in actual and contains(actual[k], v))
            for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(contains(a, e) for a, e in zip(actual, expected, strict=True)))
    return actual == expected


def _current(call: Callable[[], Any]) -> Any:
    """What Grafana holds now, or None when it answers 404."""
    try:
        return call()
    except Exception as exc:  # grafana-client raises GrafanaClientError subclasses
        if getattr(exc, "status_code", None) == 404:
            return None
        raise


#: dashboard fields Grafana sets itself on every save
_DASHBOARD_OWN = ("id", "version")


def _apply(api: Any, step: Step, force: bool) -> str:
    """Create or update one object unless Grafana already holds it; 'created' etc."""
    body, kind = step.payload, step.kind
    provisioning = api.alertingprovisioning
    if kind == "datasource":
        current = _current(lambda: api.datasource.get_datasource_by_uid(body["uid"]))
        if current is None:
            api.datasource.create_datasource(body)
            return "created"
        # secureJsonData never comes back from Grafana: a new password needs --force
        public = {k: v for k, v in body.items() if k != "secureJsonData"}
        if not force and contains(current, public):
            return "unchanged"
        api.datasource.update_datasource_by_uid(body["uid"], body)
        return "updated"
    if kind == "folder":
        current = _current(lambda: api.folder.get_folder(body["uid"]))
        if current is None:
            api.folder.create_folder(body["title"], uid=body["uid"])
            return "created"
        if not force and current.get("title") == body["title"]:
            return "unchanged"
        api.folder.update_folder(body["uid"], title=body["title"], overwrite=True)
        return "updated"
    if kind == "dashboard":
        uid = body["dashboard"]["uid"]
        current = _current(lambda: api.dashboard.get_dashboard(uid))
        wanted = {k: v for k, v in body["dashboard"].items() if k not in _DASHBOARD_OWN}
        if (current is not None and not force and contains(current["dashboard"], wanted)
                and current.get("meta", {}).get("folderUid") == body["folderUid"]):
            return "unchanged"
        api.dashboard.update_dashboard(body)
        return "updated" if current is not None else "created"
    if kind == "rule_group":
        current = _current(lambda: provisioning.get_rule_group(body["folderUid"], body["title"]))
        if current is not None and not force and contains(current, body):
            return "unchanged"
        provisioning.update_rule_group(body["folderUid"], body["title"], body)
        return "updated" if current is not None else "created"
    if kind == "contact_point":
        existing = [cp for cp in provisioning.get_contactpoints(name=body["name"])
                    if cp.get("uid") == body["uid"]]
        if not existing:
            provisioning.create_contactpoint(body)
            return "created"
        if not force and contains(existing[0], body):
            return "unchanged"
        provisioning.update_contactpoint(body["uid"], body)
        return "updated"
    if kind == "policy_tree":
        current = _current(provisioning.get_notification_policy_tree)
        if current is not None and not force and contains(current, body):
            return "unchanged"
        provisioning.set_notification_policy_tree(body)
        return "updated"
    raise PushError(f"unknown step kind {kind}")


def push(api: Any, steps: list[Step], echo: Callable[[str], None] = print,
         force: bool = False) -> dict[str, int]:
    """Send the steps with a grafana_client.GrafanaApi; returns how many were created etc.

    Idempotent: each object is read first and written only when Grafana's copy differs, so
    a second run changes nothing (no new dashboard versions either). `force` writes all.
    """
    outcomes = {"created": 0, "updated": 0, "unchanged": 0}
    for step in steps:
        try:
            outcome = _apply(api, step, force)
        except PushError:
            raise
        except Exception as exc:
            raise PushError(f"{step.kind} {step.key}: {_reason(exc)}") from exc
        outcomes[outcome] += 1
        echo(f"{outcome} {step.kind} {step.key}")
    return outcomes


def _reason(exc: Exception) -> str:
    """One line on why Grafana refused a request or could not be reached."""
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return (f"Grafana refused the token (HTTP {status}): set TOUCHLINE_GRAFANA_TOKEN to a "
                "service account token with Editor + alerting provisioning rights")
    text = " ".join(str(exc).split())
    if "Connection refused" in text or "Max retries exceeded" in text:
        return "cannot reach Grafana (connection refused): check --url / TOUCHLINE_GRAFANA_URL"
    return (f"HTTP {status}: " if status else "") + text[:300]


def connect(url: str, token: str) -> Any:
    """A grafana_client.GrafanaApi for a URL and a service account token."""
    from grafana_client import GrafanaApi

    return GrafanaApi.from_url(url=url, credential=token)
