"""The indicators week by week, for the trend charts: a–d and the active share of the region and of
each of its municipalities, from the first week with data to the report's week.

    trends = load_trends(store, {"db": "sferum", "week": date(2026, 11, 23), "region": "57"})
    trends.region.values["b"]          # b of every week, oldest first
    trends.municipalities[0].name      # the first municipality by name
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

#: The series of a trend chart: the four indicators and the active share (active of registered).
SERIES = ("a", "b", "c", "d", "active")
_COLUMN = {"a": "a_share", "b": "b_share", "c": "c_share", "d": "d_share", "active": "active_share"}

_TRENDS = f"""
SELECT week_start, unit_kind, unit_id, unit_name, {", ".join(_COLUMN[key] for key in SERIES)}
FROM {{db:Identifier}}.kpi_unit_week
WHERE region_id = {{region:String}} AND unit_kind IN ('region', 'municipality') AND week_start <= {{week:Date}}
ORDER BY week_start
"""


class Queryable(Protocol):
    def query_rows(self, sql: str, parameters: dict[str, Any] | None = None) -> Sequence[Sequence[Any]]: ...


@dataclass(frozen=True)
class Trend:
    """One unit's shares (0..1) per week, for each key of SERIES; aligned with ``Trends.weeks``."""

    unit_id: str
    name: str
    values: dict[str, tuple[float, ...]]


@dataclass(frozen=True)
class Trends:
    weeks: tuple[date, ...]
    region: Trend
    municipalities: tuple[Trend, ...]  # by name


def load_trends(store: Queryable, params: dict[str, Any], name_key: Callable[[str], str] = str.casefold) -> Trends:
    """Every week up to ``params["week"]`` of the region ``params["region"]`` and its municipalities,
    which are ordered by ``name_key`` of their names."""
    rows = store.query_rows(_TRENDS, params)
    weeks = tuple(sorted({row[0] for row in rows}))
    index = {week: i for i, week in enumerate(weeks)}
    units: dict[tuple[str, str], tuple[str, dict[str, list[float]]]] = {}
    for week, kind, unit_id, name, *shares in rows:
        _, series = units.setdefault((kind, unit_id), (name, {key: [0.0] * len(weeks) for key in SERIES}))
        for key, share in zip(SERIES, shares, strict=True):
            series[key][index[week]] = float(share)

    def trend(kind: str, unit_id: str) -> Trend:
        name, series = units[(kind, unit_id)]
        return Trend(unit_id, name, {key: tuple(values) for key, values in series.items()})

    regions = [unit for kind, unit in units if kind == "region"]
    region = trend("region", regions[0]) if regions else Trend(params["region"], "", {k: () for k in SERIES})
    municipalities = sorted(
        (trend("municipality", unit) for kind, unit in units if kind == "municipality"),
        key=lambda t: (name_key(t.name), t.unit_id),
    )
    return Trends(weeks, region, tuple(municipalities))
