"""What every board shares: the data sources, the time zone, the indicators, the colours, and a
ClickHouse query with the columns its panel reads (``Sql``) as a panel target (``ClickHouse``)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dm

TIMEZONE = "Europe/Moscow"
TAGS = ["sferum"]

CLICKHOUSE = dm.DataSourceRef(type_val="grafana-clickhouse-datasource", uid="clickhouse")
PROMETHEUS = dm.DataSourceRef(type_val="prometheus", uid="prometheus")
#: The query model of grafana-clickhouse-datasource v4 (a v3 query would be migrated on load).
CLICKHOUSE_PLUGIN_VERSION = "4.0.0"
FORMAT_TIME_SERIES, FORMAT_TABLE = 0, 1  # the plugin's `format` (sqlutil.FormatQueryOption)
INDICATORS = ("a", "b", "c", "d")

# Colours of the boards: below / at target, the levels and bands of the region and federal boards.
RED, ORANGE, YELLOW, GREEN, BLUE = "red", "orange", "yellow", "green", "blue"


@dataclass(frozen=True)
class Sql:
    """A ClickHouse query and the columns its panel (or variable) reads, in order."""

    text: str
    columns: tuple[str, ...]

    @classmethod
    def of(cls, text: str, *columns: str) -> Sql:
        return cls(textwrap.dedent(text).strip(), columns)


class ClickHouseQuery(cogvariants.Dataquery):
    """A raw-SQL target of grafana-clickhouse-datasource (the SDK has no builder for it)."""

    def __init__(self, sql: Sql, ref_id: str, time_series: bool) -> None:
        self.sql = sql
        self.ref_id = ref_id
        self.time_series = time_series

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": CLICKHOUSE,
            "editorType": "sql",
            "format": FORMAT_TIME_SERIES if self.time_series else FORMAT_TABLE,
            "pluginVersion": CLICKHOUSE_PLUGIN_VERSION,
            "queryType": "timeSeries" if self.time_series else "table",
            "rawSql": self.sql.text,
            "refId": self.ref_id,
        }


class ClickHouse(cogbuilder.Builder[ClickHouseQuery]):
    def __init__(self, sql: Sql, *, ref_id: str = "A", time_series: bool = False) -> None:
        self._query = ClickHouseQuery(sql, ref_id, time_series)

    def build(self) -> ClickHouseQuery:
        return self._query
