"""ClickHouse SQL the boards share: the template variables (``region``, ``week``,
``municipality``) and the fragments that read them. Grafana formats a variable as a quoted,
escaped SQL string (``${region:sqlstring}`` → ``'r1'``)."""

from __future__ import annotations

from .common import TIMEZONE, Sql

WEEK = "toDate(${week:sqlstring})"
REGION = "${region:sqlstring}"
#: The weeks that overlap the dashboard's time range (the plugin's macros are Unix times).
WEEKS_IN_RANGE = f"week_start BETWEEN toMonday(toDate($__fromTime, '{TIMEZONE}')) AND toDate($__toTime, '{TIMEZONE}')"


def region_filter(week: bool = True) -> str:
    where = f"unit_kind = 'region' AND unit_id = {REGION}"
    return f"week_start = {WEEK} AND {where}" if week else where


REGION_VARIABLE = Sql.of(
    """
    SELECT DISTINCT unit_id AS region_id, unit_name
    FROM sferum.kpi_unit_week
    WHERE unit_kind = 'region'
    ORDER BY unit_name, region_id
    """,
    "region_id",
    "unit_name",
)
MUNICIPALITY_VARIABLE = Sql.of(
    f"""
    SELECT DISTINCT unit_id AS municipality_id, unit_name
    FROM sferum.kpi_unit_week
    WHERE unit_kind = 'municipality' AND region_id = {REGION}
    ORDER BY unit_name, municipality_id
    """,
    "municipality_id",
    "unit_name",
)
WEEK_VARIABLE = Sql.of(
    """
    SELECT DISTINCT toString(week_start) AS week
    FROM sferum.kpi_unit_week
    WHERE unit_kind = 'region'
    ORDER BY week DESC
    """,
    "week",
)
