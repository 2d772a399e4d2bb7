"""Read panels and variables back from the built dashboards (the one source of truth).

The local view, `alerts check` and the SQL tests use this instead of the Python specs, so
whatever Grafana would get (title, visualisation, SQL) is exactly what they run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from touchline.dashboards.build import DASHBOARDS
from touchline.dashboards.panels import to_json


@dataclass(frozen=True)
class CatalogPanel:
    """One panel of a built dashboard."""

    dashboard_uid: str
    index: int
    title: str
    kind: str
    sql: str
    query_type: str
    unit: str
    description: str
    width: int
    height: int


@dataclass(frozen=True)
class CatalogVariable:
    """One query variable of a built dashboard."""

    name: str
    label: str
    sql: str
    multi: bool
    include_all: bool


@dataclass(frozen=True)
class CatalogDashboard:
    """A built dashboard's title, time range, variables and panels."""

    uid: str
    title: str
    time_from: str
    variables: tuple[CatalogVariable, ...]
    panels: tuple[CatalogPanel, ...]


def _panel(uid: str, index: int, p: dict[str, Any]) -> CatalogPanel:
    target = p["targets"][0]
    return CatalogPanel(
        dashboard_uid=uid, index=index, title=p["title"], kind=p["type"],
        sql=target["rawSql"], query_type=target["queryType"],
        unit=p.get("fieldConfig", {}).get("defaults", {}).get("unit", ""),
        description=p.get("description", ""),
        width=p["gridPos"]["w"], height=p["gridPos"]["h"])


def _variable(v: dict[str, Any]) -> CatalogVariable:
    return CatalogVariable(
        name=v["name"], label=v.get("label", v["name"]), sql=v["query"]["rawSql"],
        multi=bool(v.get("multi")), include_all=bool(v.get("includeAll")))


@cache
def dashboards() -> tuple[CatalogDashboard, ...]:
    """Every built dashboard, in declaration order."""
    out = []
    for uid, make in DASHBOARDS.items():
        doc = json.loads(to_json(make()))
        out.append(CatalogDashboard(
            uid=uid, title=doc["title"], time_from=doc["time"]["from"],
            variables=tuple(_variable(v) for v in doc["templating"]["list"]),
            panels=tuple(_panel(uid, i, p) for i, p in enumerate(doc["panels"]))))
    return tuple(out)


def dashboard(uid: str) -> CatalogDashboard:
    """One built dashboard by uid."""
    for d in dashboards():
        if d.uid == uid:
            return d
    raise KeyError(uid)
