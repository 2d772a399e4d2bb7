"""Grafana file provisioning (apiVersion 1): datasource, dashboard provider, alerting.

Mounted by the docker-compose Grafana service as /etc/grafana/provisioning. Everything is
generated from the same Python objects as the dashboards (datasource uid, rule groups, routing),
so `touchline dashboards build` rewrites these files and a test checks they are up to date.
Grafana expands `$VAR` in datasource and contact point settings and in labels, never in rule
queries or annotations (so `$__timeFilter` and `{{ $labels.x }}` are safe there).
"""

from __future__ import annotations

from typing import Any

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from touchline.dashboards import alerts, notifications
from touchline.dashboards.clickhouse_query import (
    DATABASE,
    DATASOURCE_NAME,
    DATASOURCE_UID,
    PLUGIN_ID,
)

ORG_ID = 1
DASHBOARDS_PATH = "/var/lib/grafana/dashboards"
CH_USER_ENV = "TOUCHLINE_GRAFANA_CH_USER"
CH_PASSWORD_ENV = "TOUCHLINE_GRAFANA_CH_PASSWORD"


def as_json(builder: Any) -> Any:
    """An SDK builder's output as plain JSON data."""
    import json

    return json.loads(JSONEncoder(sort_keys=True).encode(builder.build()))


def datasource_model() -> dict[str, Any]:
    """The ClickHouse datasource (plugin v4 settings), native protocol on port 9000."""
    return {
        "name": DATASOURCE_NAME,
        "uid": DATASOURCE_UID,
        "type": PLUGIN_ID,
        "access": "proxy",
        "isDefault": True,
        "editable": False,
        "jsonData": {
            "host": "clickhouse",
            "port": 9000,
            "protocol": "native",
            "secure": False,
            "username": f"${CH_USER_ENV}",
            "defaultDatabase": DATABASE,
        },
        "secureJsonData": {"password": f"${CH_PASSWORD_ENV}"},
    }


def datasources_file() -> dict[str, Any]:
    """provisioning/datasources/touchline-clickhouse.yaml."""
    return {"apiVersion": 1, "datasources": [{"orgId": ORG_ID, **datasource_model()}]}


def dashboards_file() -> dict[str, Any]:
    """provisioning/dashboards/touchline.yaml: the generated JSON files, read-only."""
    return {"apiVersion": 1, "providers": [{
        "name": "touchline",
        "orgId": ORG_ID,
        "folder": alerts.FOLDER_TITLE,
        "folderUid": alerts.FOLDER_UID,
        "type": "file",
        "disableDeletion": True,
        "allowUiUpdates": False,
        "updateIntervalSeconds": 30,
        "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
    }]}


def _duration(seconds: int) -> str:
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def rule_group_file_form(group: dict[str, Any]) -> dict[str, Any]:
    """An API rule group (the SDK's JSON) in the file-provisioning shape."""
    rules = []
    for rule in group["rules"]:
        rules.append({
            "uid": rule["uid"],
            "title": rule["title"],
            "condition": rule["condition"],
            "data": rule["data"],
            "noDataState": rule["noDataState"],
            "execErrState": rule["execErrState"],
            "for": rule["for"],
            "annotations": rule["annotations"],
            "labels": rule["labels"],
            "isPaused": False,
        })
    return {"orgId": ORG_ID, "name": group["title"], "folder": alerts.FOLDER_TITLE,
            "interval": _duration(int(group["interval"])), "rules": rules}


def rule_groups_json() -> list[dict[str, Any]]:
    """Every rule group as the provisioning API takes it (what `dashboards push` sends)."""
    return [as_json(g) for g in alerts.rule_groups()]


def rules_file() -> dict[str, Any]:
    """provisioning/alerting/rules.yaml."""
    return {"apiVersion": 1, "groups": [rule_group_file_form(g) for g in rule_groups_json()]}


def contact_points_file() -> dict[str, Any]:
    """provisioning/alerting/contact-points.yaml: a contact point per route, one receiver each.

    A route's email, Slack and webhook integrations share its name.
    """
    points: dict[str, dict[str, Any]] = {}
    for cp in notifications.contact_points():
        data = as_json(cp)
        point = points.setdefault(data["name"], {"orgId": ORG_ID, "name": data["name"],
                                                 "receivers": []})
        point["receivers"].append({
            "uid": data["uid"],
            "type": data["type"],
            "settings": data["settings"],
            "disableResolveMessage": data["disableResolveMessage"],
        })
    return {"apiVersion": 1, "contactPoints": list(points.values())}


def policies_file() -> dict[str, Any]:
    """provisioning/alerting/policies.yaml: the whole notification policy tree."""
    return {"apiVersion": 1,
            "policies": [{"orgId": ORG_ID, **as_json(notifications.notification_policy())}]}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (SQL) as literal blocks, so the files read like the source."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(data: dict[str, Any], header: str) -> str:
    """Deterministic YAML with a generated-file header."""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                     width=100, allow_unicode=True)
    return f"# {header}\n# Generated by `touchline dashboards build`; do not edit.\n{body}"


def provisioning_files() -> dict[str, str]:
    """Relative path under dashboards/provisioning/ -> file text."""
    return {
        "datasources/touchline-clickhouse.yaml": to_yaml(
            datasources_file(), "ClickHouse datasource (grafana-clickhouse-datasource)"),
        "dashboards/touchline.yaml": to_yaml(
            dashboards_file(), "Dashboard provider: the generated dashboards, read-only"),
        "alerting/rules.yaml": to_yaml(rules_file(), "Alert rules on leading indicators"),
        "alerting/contact-points.yaml": to_yaml(
            contact_points_file(), "Contact points: ops and one per route (examples/routing.yaml)"),
        "alerting/policies.yaml": to_yaml(
            policies_file(), "Notification policy tree: by audience, team and manager"),
    }
