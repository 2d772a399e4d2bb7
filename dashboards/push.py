"""`touchline dashboards push`: send everything to a running Grafana through its HTTP API.

Uses grafana-client (the maintained successor of grafana-api, which has no alerting
provisioning API). `plan()` builds every request body first (pure, unit-tested), `push()` sends
them in dependency order: datasource, folder, dashboards, rule groups, contact points, policy
tree. Unlike file provisioning, the API does not expand `$VAR`, so env references in the
datasource and contact point settings are resolved here, from this process's environment.
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


def _exists(call: Callable[[], Any]) -> bool:
    try:
        call()
        return True
    except Exception as exc:  # grafana-client raises GrafanaClientError subclasses
        if getattr(exc, "status_code", None) == 404 or "404" in str(exc):
            return False
        raise


def push(api: Any, steps: list[Step], echo: Callable[[str], None] = print) -> None:
    """Send the steps with a grafana_client.GrafanaApi, creating or updating each object."""
    for step in steps:
        body = step.payload
        try:
            if step.kind == "datasource":
                if _exists(lambda b=body: api.datasource.get_datasource_by_uid(b["uid"])):
                    api.datasource.update_datasource_by_uid(body["uid"], body)
                else:
                    api.datasource.create_datasource(body)
            elif step.kind == "folder":
                if not _exists(lambda b=body: api.folder.get_folder(b["uid"])):
                    api.folder.create_folder(body["title"], uid=body["uid"])
            elif step.kind == "dashboard":
                api.dashboard.update_dashboard(body)
            elif step.kind == "rule_group":
                api.alertingprovisioning.update_rule_group(body["folderUid"], body["title"], body)
            elif step.kind == "contact_point":
                existing = api.alertingprovisioning.get_contactpoints(name=body["name"])
                if existing:
                    api.alertingprovisioning.update_contactpoint(body["uid"], body)
                else:
                    api.alertingprovisioning.create_contactpoint(body)
            elif step.kind == "policy_tree":
                api.alertingprovisioning.set_notification_policy_tree(body)
            else:
                raise PushError(f"unknown step kind {step.kind}")
        except PushError:
            raise
        except Exception as exc:
            raise PushError(f"{step.kind} {step.key}: {str(exc).splitlines()[0][:300]}") from exc
        echo(f"pushed {step.kind} {step.key}")


def connect(url: str, token: str) -> Any:
    """A grafana_client.GrafanaApi for a URL and a service account token."""
    from grafana_client import GrafanaApi

    return GrafanaApi.from_url(url=url, credential=token)
