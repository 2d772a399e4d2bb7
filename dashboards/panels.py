"""Shared panel defaults: a `PanelSpec` (title, kind, SQL, expected columns) becomes an SDK panel.

Dashboards are lists of PanelSpecs; the generated JSON, the SQL checks and the local view all read
the panels back from the built dashboard, so titles, SQL and visualisation live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from grafana_foundation_sdk.builders import barchart, stat, table, timeseries
from grafana_foundation_sdk.builders.common import (
    ReduceDataOptions,
    VizLegendOptions,
    VizTooltipOptions,
)
from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    GraphDrawStyle,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    TooltipDisplayMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from touchline.dashboards.clickhouse_query import (
    DATASOURCE_UID,
    PLUGIN_ID,
    ClickHouseQueryBuilder,
    register,
)

Kind = Literal["stat", "timeseries", "table", "barchart"]


@dataclass(frozen=True)
class PanelSpec:
    """One panel: what it shows, how, and the columns its SQL must return."""

    title: str
    kind: Kind
    sql: str
    columns: tuple[str, ...]
    description: str = ""
    unit: str = ""
    width: int = 12
    height: int = 8


@dataclass(frozen=True)
class VariableSpec:
    """A query variable of the ClickHouse datasource."""

    name: str
    label: str
    sql: str
    multi: bool = False
    include_all: bool = False
    #: False keeps the query's order (its first option is the default)
    sort: bool = True


def datasource() -> DataSourceRef:
    """The provisioned ClickHouse datasource."""
    return DataSourceRef(type_val=PLUGIN_ID, uid=DATASOURCE_UID)


def clickhouse_query(spec: PanelSpec) -> ClickHouseQueryBuilder:
    """The panel's one target: table for stats/tables/bars, time series for time series."""
    query = ClickHouseQueryBuilder(spec.sql).ref_id("A")
    return query.time_series() if spec.kind == "timeseries" else query


def _legend() -> VizLegendOptions:
    return (VizLegendOptions().display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM).show_legend(True))


def _tooltip() -> VizTooltipOptions:
    return VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING)


def build_panel(spec: PanelSpec) -> Any:
    """An SDK panel builder for the spec, with the shared defaults of its kind."""
    if spec.kind == "stat":
        panel = (stat.Panel()
                 .graph_mode(BigValueGraphMode.NONE)
                 .color_mode(BigValueColorMode.NONE)
                 .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    elif spec.kind == "timeseries":
        panel = (timeseries.Panel()
                 .draw_style(GraphDrawStyle.LINE)
                 .fill_opacity(10)
                 .span_nulls(True)
                 .legend(_legend())
                 .tooltip(_tooltip()))
    elif spec.kind == "barchart":
        panel = (barchart.Panel()
                 .orientation(VizOrientation.VERTICAL)
                 .x_field(spec.columns[0])
                 .legend(_legend())
                 .tooltip(_tooltip()))
    else:
        panel = table.Panel().show_header(True)
    panel = (panel
             .title(spec.title)
             .datasource(datasource())
             .with_target(clickhouse_query(spec))
             .span(spec.width)
             .height(spec.height))
    if spec.description:
        panel = panel.description(spec.description)
    if spec.unit:
        panel = panel.unit(spec.unit)
    return panel


def build_variable(spec: VariableSpec) -> QueryVariable:
    """A ClickHouse query variable; multi-value ones default to All."""
    var = (QueryVariable(spec.name)
           .label(spec.label)
           .datasource(datasource())
           .query({"editorType": "sql", "format": 1, "queryType": "sql",
                   "rawSql": spec.sql, "refId": f"var-{spec.name}"})
           .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
           .sort(VariableSort.ALPHABETICAL_ASC if spec.sort else VariableSort.DISABLED)
           .multi(spec.multi)
           .include_all(spec.include_all))
    if spec.include_all:
        var = var.current(VariableOption(selected=True, text=["All"], value=["$__all"]))
    return var


def new_dashboard(uid: str, title: str, description: str, time_from: str,
                  variables: list[VariableSpec], panels: list[PanelSpec]) -> Dashboard:
    """A dashboard with touchline's fixed defaults: uid, tags, UTC, time range, refresh."""
    register()
    board = (Dashboard(title)
             .uid(uid)
             .description(description)
             .tags(["generated", "touchline"])
             .timezone("utc")
             .time(time_from, "now")
             .refresh("10s")
             .readonly())
    for var in variables:
        board = board.with_variable(build_variable(var))
    for spec in panels:
        board = board.with_panel(build_panel(spec))
    return board


def to_json(board: Dashboard) -> str:
    """The committed form: sorted keys, indent 2, trailing newline."""
    model = board.build()
    for var in model.templating.list_val or []:
        # the SDK's variable model carries interval-variable fields on every variable; the
        # dashboard schema (@grafana/schema) rejects them on query variables
        if var.type_val == "query":
            var.auto = var.auto_min = var.auto_count = None
    return JSONEncoder(sort_keys=True, indent=2).encode(model) + "\n"

