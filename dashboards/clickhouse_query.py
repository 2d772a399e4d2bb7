"""A ClickHouse query type for grafana-foundation-sdk (the SDK ships no ClickHouse builder).

The JSON matches what the grafana-clickhouse-datasource plugin (v4) stores for a raw SQL query:
`editorType: "sql"`, `queryType: "table" | "timeSeries"`, `format` (1 = table, 0 = time series,
the plugin backend's sqlutil format), `rawSql`, and the datasource reference.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants

PLUGIN_ID = "grafana-clickhouse-datasource"
DATASOURCE_UID = "touchline-clickhouse"
DATASOURCE_NAME = "ClickHouse (touchline)"
DATABASE = "touchline"

QueryType = Literal["table", "timeSeries"]
_FORMAT = {"table": 1, "timeSeries": 0}


def datasource_ref() -> dict[str, str]:
    """The datasource reference every ClickHouse target and panel uses."""
    return {"type": PLUGIN_ID, "uid": DATASOURCE_UID}


class ClickHouseQuery(cogvariants.Dataquery):
    """One raw-SQL target of the ClickHouse plugin."""

    def __init__(self, raw_sql: str, query_type: QueryType = "table", ref_id: str = "A",
                 hide: bool | None = None) -> None:
        self.raw_sql = raw_sql
        self.query_type = query_type
        self.ref_id = ref_id
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        """The target as the plugin stores it."""
        payload: dict[str, object] = {
            "datasource": datasource_ref(),
            "editorType": "sql",
            "format": _FORMAT[self.query_type],
            "queryType": self.query_type,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Read a stored target back (used when the SDK decodes a dashboard)."""
        return cls(
            raw_sql=data.get("rawSql", ""),
            query_type="timeSeries" if data.get("queryType") == "timeSeries" else "table",
            ref_id=data.get("refId", "A"),
            hide=data.get("hide"),
        )


class ClickHouseQueryBuilder(cogbuilder.Builder[ClickHouseQuery]):
    """Builder in the SDK's style: `ClickHouseQueryBuilder(SQL).time_series().ref_id("A")`."""

    def __init__(self, raw_sql: str) -> None:
        self._internal = ClickHouseQuery(raw_sql)

    def build(self) -> ClickHouseQuery:  # noqa: D102
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        """Set the query's refId."""
        self._internal.ref_id = ref_id
        return self

    def time_series(self) -> Self:
        """Return a time series (long format: time, series label, value)."""
        self._internal.query_type = "timeSeries"
        return self

    def table(self) -> Self:
        """Return a table (the default)."""
        self._internal.query_type = "table"
        return self


def variant_config() -> cogruntime.DataqueryConfig:
    """SDK runtime registration, so decoded dashboards revive ClickHouse targets."""
    return cogruntime.DataqueryConfig(identifier=PLUGIN_ID,
                                      from_json_hook=ClickHouseQuery.from_json)


def register() -> None:
    """Register the query type with the SDK runtime (idempotent)."""
    cogruntime.Runtime().register_dataquery_variant(variant_config())
