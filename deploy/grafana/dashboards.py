"""The Grafana boards of sferum-kpi, as code (grafana-foundation-sdk, the build for Grafana 11.6).

    .venv/bin/python deploy/grafana/dashboards.py          # from the repository root
    .venv/bin/python deploy/grafana/dashboards.py --out DIR

writes one JSON file per board into ``deploy/grafana/provisioning/dashboards/json/`` (or DIR),
where Grafana's file provider (``provisioning/dashboards/dashboards.yml``) loads them. The JSON
files are checked in; ``tests/integration/test_grafana_dashboards.py`` regenerates them and fails
when they differ, and runs every ClickHouse query of the boards against a store with demo data.

Boards (weeks are ISO weeks in Europe/Moscow: ``week_start`` is already the Moscow Monday):

- ``sferum-region``: a region's week as the regional centre's slides show it: indicators a–d
  against the targets with the change from the previous week, their trends (the region, and one
  small chart per municipality), registration and activity of municipalities, schools, teachers
  and students, the municipality tables by level (each with its denominator), the municipality
  lists. Variables ``region``, ``week`` and ``municipality`` (the small charts repeat over it).
- ``sferum-federal``: regions ranked by b, the regions as tiles coloured by the federal bands
  0–1 %, 1–5 %, 5–100 %, every region against the four targets, week-over-week changes. Variable ``week``.
- ``sferum-ingestion``: the workers from Prometheus (metrics of ``stream/metrics.py`` and
  ``stream/kpi_gauges.py``, recording rules of ``deploy/prometheus/rules/sferum.rules.yml``).

ClickHouse SQL uses only Grafana variables, formatted by Grafana as quoted, escaped SQL strings
(``${region:sqlstring}`` → ``'r1'``), and the plugin's time macros (``$__fromTime``, ``$__toTime``).
Every query keeps next to it the columns its panel reads (``Sql.columns``); the test checks them.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import barchart, bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as prom_models

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: deploy/ is not part of the installed package
    sys.path.insert(0, str(ROOT))

from stream.report.data import TARGETS_PCT  # noqa: E402  (after the path set-up above)
from stream.report.labels import (  # noqa: E402
    ACTIVE_MUNICIPALITY,
    INDICATOR_NOTES,
    INDICATOR_SHORT,
    INDICATOR_TITLES,
    MUNICIPALITY_LISTS,
    TREND_NAMES,
)
from stream.report.regions import SUBJECTS  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "provisioning" / "dashboards" / "json"
TIMEZONE = "Europe/Moscow"
TAGS = ["sferum"]

CLICKHOUSE = dm.DataSourceRef(type_val="grafana-clickhouse-datasource", uid="clickhouse")
PROMETHEUS = dm.DataSourceRef(type_val="prometheus", uid="prometheus")
#: The query model of grafana-clickhouse-datasource v4 (a v3 query would be migrated on load).
CLICKHOUSE_PLUGIN_VERSION = "4.0.0"
FORMAT_TIME_SERIES, FORMAT_TABLE = 0, 1  # the plugin's `format` (sqlutil.FormatQueryOption)

JOB = 'job="sferum-kpi-worker"'
INDICATORS = ("a", "b", "c", "d")

# Colours of the boards: below / at target, the three levels, the federal bands.
RED, ORANGE, YELLOW, GREEN, BLUE = "red", "orange", "yellow", "green", "blue"
LEVELS = {"low": ("низкий", RED), "sufficient": ("достаточный", YELLOW), "high": ("высокий", GREEN)}
BANDS = {"0-1%": ("0–1 %", RED), "1-5%": ("1–5 %", ORANGE), "5-100%": ("5–100 %", GREEN)}
DIRECTIONS = {"growth": ("растёт", GREEN), "fall": ("падает", RED), "none": ("нет", "text")}
LISTS = {"absent": RED, "no_staff_registered": ORANGE, "active": GREEN}
#: the trend series: a–d and the active share (of registered teachers)
SERIES = (*INDICATORS, "active")
SHARE_NAMES = {
    "teachers_registered_share": "Педагоги в ИКОП «Сферум»",
    "active_share": "Активные педагоги",
    "active_share_of_total": "Активные педагоги (от всех по реестру)",
    **{f"{key}_share": INDICATOR_SHORT[key] for key in INDICATORS},
    "students_registered_share": "Ученики в ИКОП «Сферум»",
    "schools_registered_share": "Школы в ИКОП «Сферум»",
    "schools_active_share": "Активные школы",
    "municipalities_registered_share": "МО в ИКОП «Сферум»",
    "municipalities_active_share": "Активные МО",
}

# ClickHouse queries -----------------------------------------------------------------------------

WEEK = "toDate(${week:sqlstring})"
REGION = "${region:sqlstring}"
#: The weeks that overlap the dashboard's time range (the plugin's macros are Unix times).
WEEKS_IN_RANGE = f"week_start BETWEEN toMonday(toDate($__fromTime, '{TIMEZONE}')) AND toDate($__toTime, '{TIMEZONE}')"


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


def indicator_sql(key: str) -> Sql:
    return Sql.of(
        f"""
        SELECT share, delta_pp
        FROM sferum.kpi_dynamics
        WHERE {region_filter()} AND metric = '{key}_share'
        """,
        "share",
        "delta_pp",
    )


INDICATORS_VS_TARGETS = Sql.of(
    f"""
    SELECT a_share AS a, b_share AS b, c_share AS c, d_share AS d
    FROM sferum.kpi_unit_week
    WHERE {region_filter()}
    """,
    *INDICATORS,
)
_SERIES_SELECT = "a_share AS a, b_share AS b, c_share AS c, d_share AS d, active_share AS active"
INDICATORS_BY_WEEK = Sql.of(
    f"""
    SELECT toDateTime(week_start, '{TIMEZONE}') AS time, {_SERIES_SELECT}
    FROM sferum.kpi_unit_week
    WHERE {region_filter(week=False)}
      AND {WEEKS_IN_RANGE}
    ORDER BY time
    """,
    "time",
    *SERIES,
)
MUNICIPALITY_BY_WEEK = Sql.of(
    f"""
    SELECT toDateTime(week_start, '{TIMEZONE}') AS time, {_SERIES_SELECT}
    FROM sferum.kpi_unit_week
    WHERE unit_kind = 'municipality' AND region_id = {REGION} AND unit_id = ${{municipality:sqlstring}}
      AND {WEEKS_IN_RANGE}
    ORDER BY time
    """,
    "time",
    *SERIES,
)

#: kind -> (title, description, columns of kpi_unit_week as total, registered, registered share, active, active share)
TALLIES = {
    "municipalities": (
        "Муниципальные образования",
        ACTIVE_MUNICIPALITY + ".",
        (
            "municipalities_total",
            "municipalities_registered",
            "municipalities_registered_share",
            "municipalities_active",
            "municipalities_active_share",
        ),
    ),
    "schools": (
        "Школы",
        "Активной считается школа, зарегистрированная в ИКОП «Сферум», педагоги которой создали как минимум "
        "1 групповой чат и написали как минимум 3 сообщения в групповых чатах.",
        ("schools_total", "schools_registered", "schools_registered_share", "schools_active", "schools_active_share"),
    ),
    "teachers": (
        "Педагоги",
        "Активным считается педагог, зарегистрированный в ИКОП «Сферум», создавший как минимум 1 групповой чат "
        "и написавший как минимум 3 сообщения в групповых чатах.",
        ("teachers_total", "teachers_registered", "teachers_registered_share", "active_teachers", "active_share"),
    ),
    "students": (
        "Ученики",
        "Обучающиеся старше 14 лет регистрируются сами, младше 14 лет — их родители из профиля законного "
        "представителя.",
        ("students_total", "students_registered", "students_registered_share", "students_registered_by_parent"),
    ),
}
TALLY_NAMES = ("total", "registered", "registered_share", "active", "active_share")
TALLY_DISPLAY = {
    "total": "Всего",
    "registered": "В ИКОП «Сферум»",
    "registered_share": "Доля в ИКОП «Сферум»",
    "active": "Активных",
    "active_share": "Доля активных",
    "by_parent": "Зарегистрированы родителями",
}


def tally_sql(kind: str) -> Sql:
    columns = TALLIES[kind][2]
    names = TALLY_NAMES if kind != "students" else (*TALLY_NAMES[:3], "by_parent")
    select = ",\n       ".join(f"{column} AS {name}" for column, name in zip(columns, names, strict=True))
    return Sql.of(
        f"""
        SELECT {select}
        FROM sferum.kpi_unit_week
        WHERE {region_filter()}
        """,
        *names,
    )


REGION_DYNAMICS = Sql.of(
    f"""
    SELECT metric, share, prev_share, delta_pp, direction
    FROM sferum.kpi_dynamics
    WHERE {region_filter()}
    ORDER BY indexOf([{", ".join(f"'{m}'" for m in SHARE_NAMES)}], metric)
    """,
    "metric",
    "share",
    "prev_share",
    "delta_pp",
    "direction",
)

#: kpi_levels metric -> (title, what the share is), as in the seed's slides: each list its denominator
LEVEL_TABLES = {
    "schools_active_share": ("Доля школ в ИКОП «Сферум»", "активных от зарегистрированных в ИКОП школ МО"),
    "active_share_of_total": ("Доля педагогов в ИКОП «Сферум»", "активных от всех педагогов МО по реестру"),
    "students_registered_share": ("Доля учеников в ИКОП «Сферум»", "зарегистрированных от всех учеников МО"),
}


def levels_sql(metric: str) -> Sql:
    return Sql.of(
        f"""
        SELECT unit_name AS municipality, share, level
        FROM sferum.kpi_levels
        WHERE week_start = {WEEK} AND unit_kind = 'municipality' AND region_id = {REGION}
          AND metric = '{metric}'
        ORDER BY share DESC, municipality
        """,
        "municipality",
        "share",
        "level",
    )


MUNICIPALITY_LISTS_SQL = Sql.of(
    f"""
    SELECT list, municipality_name AS municipality
    FROM sferum.kpi_municipality_lists
    WHERE week_start = {WEEK} AND region_id = {REGION}
    ORDER BY indexOf(['absent', 'no_staff_registered', 'active'], list), municipality
    """,
    "list",
    "municipality",
)

RANKING_CHART = Sql.of(
    f"""
    SELECT region_name, b_share
    FROM sferum.kpi_region_ranking
    WHERE week_start = {WEEK}
    ORDER BY rank, region_name
    """,
    "region_name",
    "b_share",
)
RANKING_TABLE = Sql.of(
    f"""
    SELECT r.rank AS rank, r.region_id AS region_id, r.region_name AS region_name,
           r.b_teachers AS b_teachers, r.teachers_registered AS teachers_registered,
           r.b_share AS b_share, d.delta_pp AS delta_pp, r.band AS band
    FROM sferum.kpi_region_ranking AS r
    LEFT JOIN (
        SELECT unit_id, delta_pp
        FROM sferum.kpi_dynamics
        WHERE week_start = {WEEK} AND unit_kind = 'region' AND metric = 'b_share'
    ) AS d ON d.unit_id = r.region_id
    WHERE r.week_start = {WEEK}
    ORDER BY rank, region_name
    """,
    "rank",
    "region_id",
    "region_name",
    "b_teachers",
    "teachers_registered",
    "b_share",
    "delta_pp",
    "band",
)
#: a region's code on its tile: by name (lower case, «ё» as «е»), else by id (the subject's number),
#: else the first three letters of the name; constants of stream.report.regions, not user input
_NAMES = ", ".join(f"'{sub.name.lower().replace('ё', 'е')}'" for sub in SUBJECTS)
_NUMBERS = ", ".join(f"'{sub.number}'" for sub in SUBJECTS)
_CODES = ", ".join(f"'{sub.code}'" for sub in SUBJECTS)
REGION_CODE = (
    f"transform(replaceAll(lowerUTF8(region_name), 'ё', 'е'), [{_NAMES}], [{_CODES}], "
    f"transform(region_id, [{_NUMBERS}], [{_CODES}], upperUTF8(substringUTF8(region_name, 1, 3))))"
)
REGION_TILES = Sql.of(
    f"""
    SELECT {REGION_CODE} AS code, b_share
    FROM sferum.kpi_region_ranking
    WHERE week_start = {WEEK}
    ORDER BY region_name
    """,
    "code",
    "b_share",
)
REGION_MAP = Sql.of(
    f"""
    SELECT region_id, region_name, b_share, band
    FROM sferum.kpi_region_ranking
    WHERE week_start = {WEEK}
    ORDER BY region_name
    """,
    "region_id",
    "region_name",
    "b_share",
    "band",
)
_MET = " + ".join(
    f"({key}_teachers * 100 >= {TARGETS_PCT[key]} * teachers_registered AND teachers_registered > 0)"
    for key in INDICATORS
)
TARGETS_TABLE = Sql.of(
    f"""
    SELECT unit_id AS region_id, unit_name AS region_name, teachers_registered,
           a_share, b_share, c_share, d_share,
           {_MET} AS targets_met
    FROM sferum.kpi_unit_week
    WHERE week_start = {WEEK} AND unit_kind = 'region'
    ORDER BY targets_met DESC, b_share DESC, region_name
    """,
    "region_id",
    "region_name",
    "teachers_registered",
    "a_share",
    "b_share",
    "c_share",
    "d_share",
    "targets_met",
)
FEDERAL_DYNAMICS = Sql.of(
    f"""
    SELECT unit_id AS region_id, unit_name AS region_name,
           anyIf(delta_pp, metric = 'a_share') AS a_delta_pp,
           anyIf(delta_pp, metric = 'b_share') AS b_delta_pp,
           anyIf(delta_pp, metric = 'c_share') AS c_delta_pp,
           anyIf(delta_pp, metric = 'd_share') AS d_delta_pp
    FROM sferum.kpi_dynamics
    WHERE week_start = {WEEK} AND unit_kind = 'region'
    GROUP BY region_id, region_name
    ORDER BY region_name
    """,
    "region_id",
    "region_name",
    "a_delta_pp",
    "b_delta_pp",
    "c_delta_pp",
    "d_delta_pp",
)
B_BY_WEEK = Sql.of(
    f"""
    SELECT toDateTime(week_start, '{TIMEZONE}') AS time, region_name, b_share
    FROM sferum.kpi_region_ranking
    WHERE {WEEKS_IN_RANGE}
    ORDER BY time, region_name
    """,
    "time",
    "region_name",
    "b_share",
)

# Field configuration helpers ---------------------------------------------------------------------


def thresholds(base: str, *steps: tuple[float, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=None, color=base), *(dm.Threshold(value=v, color=c) for v, c in steps)])
    )


def target_thresholds(key: str) -> db.ThresholdsConfig:
    return thresholds(RED, (TARGETS_PCT[key] / 100, GREEN))


def value_map(values: dict[str, tuple[str, str]]) -> dm.ValueMap:
    return dm.ValueMap(
        options={
            value: dm.ValueMappingResult(text=text, color=color, index=i)
            for i, (value, (text, color)) in enumerate(values.items())
        }
    )


def prop(id_val: str, value: object) -> dm.DynamicConfigValue:
    return dm.DynamicConfigValue(id_val=id_val, value=value)


def named(name: str) -> list[dm.DynamicConfigValue]:
    return [prop("displayName", name)]


def percent(name: str | None = None) -> list[dm.DynamicConfigValue]:
    props = [prop("unit", "percentunit"), prop("decimals", 1)]
    return props + (named(name) if name else [])


def pp(name: str) -> list[dm.DynamicConfigValue]:
    return [*named(name), prop("unit", "suffix: п. п."), prop("decimals", 1)]


def hidden() -> list[dm.DynamicConfigValue]:
    return [prop("custom.hidden", True)]


def coloured_text(steps: db.ThresholdsConfig) -> list[dm.DynamicConfigValue]:
    return [
        prop("color", {"mode": "thresholds"}),
        prop("thresholds", steps.build()),
        prop("custom.cellOptions", common.TableColorTextCellOptions()),
    ]


def coloured_row() -> list[dm.DynamicConfigValue]:
    """Colour the whole row by this field's mapped colour."""
    return [
        prop(
            "custom.cellOptions",
            common.TableColoredBackgroundCellOptions(
                mode=common.TableCellBackgroundDisplayMode.BASIC, apply_to_row=True
            ),
        )
    ]


def reduce_last() -> cb.ReduceDataOptions:
    return cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields("")


def legend(placement: common.LegendPlacement = common.LegendPlacement.BOTTOM) -> cb.VizLegendOptions:
    return (
        cb.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(placement)
        .calcs([])
    )


def dashed_target_line() -> cb.GraphThresholdsStyleConfig:
    return cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED)


def ch_table(title: str, sql: Sql, *, w: int, h: int, description: str = "") -> table.Panel:
    panel = (
        table.Panel()
        .title(title)
        .datasource(CLICKHOUSE)
        .with_target(ClickHouse(sql))
        .span(w)
        .height(h)
        .cell_height(common.TableCellHeight.SM)
        .show_header(True)
    )
    return panel.description(description) if description else panel


# Layout -------------------------------------------------------------------------------------------

PanelBuilder = cogbuilder.Builder[dm.Panel]


class Layout:
    """Panels placed left to right, wrapping at the grid's 24 columns, under rows that stay open
    (Grafana reads the panels of an open row from the top-level list after it, so each row is
    added empty and its panels after it). Panel ids are 1, 2, ... in order."""

    WIDTH = 24

    def __init__(self, dashboard: db.Dashboard) -> None:
        self.dashboard = dashboard
        self._next_id = 1
        self._x = self._y = self._line_height = 0

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _new_line(self) -> None:
        self._y += self._line_height
        self._x = self._line_height = 0

    def row(self, title: str, *panels: PanelBuilder) -> Layout:
        self._new_line()
        grid = dm.GridPos(x=0, y=self._y, w=self.WIDTH, h=1)
        self.dashboard.with_row(db.Row(title).collapsed(False).id(self._id()).grid_pos(grid))
        self._y += 1
        for panel in panels:
            pos = panel.build().grid_pos  # the builder's own object: set by span() and height()
            assert pos is not None and 0 < pos.w <= self.WIDTH, title
            if self._x + pos.w > self.WIDTH:
                self._new_line()
            pos.x, pos.y = self._x, self._y
            self._x += pos.w
            self._line_height = max(self._line_height, pos.h)
            panel.id(self._id())  # type: ignore[attr-defined]
            self.dashboard.with_panel(panel)
        return self


def board(uid: str, title: str, description: str, *, time_from: str, refresh: str) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone(TIMEZONE)
        .week_start("monday")
        .time(time_from, "now")
        .refresh(refresh)
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .link(
            db.DashboardLink("Доски «Сферум»")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


def clickhouse_variable(name: str, label: str, sql: Sql, *, every: bool = False) -> db.QueryVariable:
    """Values from SQL: one column, or (value, text) as the plugin reads two. ``every``: several
    values may be chosen, all by default (for panels that repeat over the variable)."""
    variable = (
        db.QueryVariable(name)
        .label(label)
        .datasource(CLICKHOUSE)
        .query(sql.text)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.DISABLED)
        .allow_custom_value(False)
        .include_all(every)
        .multi(every)
    )
    if every:
        variable = variable.current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
    return variable


@dataclass(frozen=True)
class Board:
    filename: str
    dashboard: dm.Dashboard
    #: the ClickHouse queries of the template variables (panel queries are in the panels)
    variables: tuple[Sql, ...] = ()

    def json(self) -> str:
        return json.dumps(self.dashboard, cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


# (a) the region -----------------------------------------------------------------------------------


def indicator_stat(key: str) -> stat.Panel:
    target = TARGETS_PCT[key]
    return (
        stat.Panel()
        .title(f"{INDICATOR_SHORT[key]} · цель ≥ {target} %")
        .description(
            f"{INDICATOR_TITLES[key]} ({INDICATOR_NOTES[key].lower()}): текущее значение и изменение за неделю."
        )
        .datasource(CLICKHOUSE)
        .with_target(ClickHouse(indicator_sql(key)))
        .span(6)
        .height(5)
        .reduce_options(reduce_last())
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.CENTER)
        .orientation(common.VizOrientation.HORIZONTAL)
        .no_value("—")
        .override_by_name("share", [*percent("Текущее значение"), prop("thresholds", target_thresholds(key).build())])
        .override_by_name(
            "delta_pp",
            [
                *pp("Динамика за неделю"),
                prop("color", {"mode": "thresholds"}),
                prop("thresholds", thresholds(RED, (0, "text"), (0.05, GREEN)).build()),
                prop("noValue", "нет данных за прошлую неделю"),
            ],
        )
    )


def indicators_vs_targets() -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .title("Показатели и цели")
        .description("Цвет полосы меняется на зелёный, когда показатель достигает цели.")
        .datasource(CLICKHOUSE)
        .with_target(ClickHouse(INDICATORS_VS_TARGETS))
        .span(12)
        .height(8)
        .reduce_options(reduce_last())
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
        .show_unfilled(True)
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .max(1)
    )
    for key in INDICATORS:
        panel = panel.override_by_name(
            key,
            [
                *named(f"{INDICATOR_SHORT[key]} (цель {TARGETS_PCT[key]} %)"),
                prop("thresholds", target_thresholds(key).build()),
            ],
        )
    return panel


#: Colours of the trend lines; a target is a dashed line in its indicator's colour.
SERIES_COLOURS = {"a": BLUE, "b": ORANGE, "c": "purple", "d": GREEN, "active": "text"}


def trend_panel(title: str, sql: Sql, *, w: int, h: int, description: str) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(ClickHouse(sql, time_series=True))
        .span(w)
        .height(h)
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .draw_style(common.GraphDrawStyle.LINE)
        .show_points(common.VisibilityMode.ALWAYS)
        .point_size(5)
        .thresholds_style(dashed_target_line())
        .legend(legend())
    )
    for key in SERIES:
        colour = SERIES_COLOURS[key]
        props = [*named(TREND_NAMES[key]), prop("color", {"mode": "fixed", "fixedColor": colour})]
        if key in TARGETS_PCT:  # the active share has no target
            props.append(prop("thresholds", thresholds("transparent", (TARGETS_PCT[key] / 100, colour)).build()))
        else:
            props.append(prop("custom.thresholdsStyle", {"mode": "off"}))
        panel = panel.override_by_name(key, props)
    return panel


def indicators_by_week() -> timeseries.Panel:
    return trend_panel(
        "Показатели по неделям",
        INDICATORS_BY_WEEK,
        w=12,
        h=8,
        description="a–d и доля активных педагогов (от зарегистрированных) по неделям; неделя — с понедельника "
        "00:00 по Москве. Пунктир — цель показателя того же цвета.",
    )


def municipality_by_week() -> timeseries.Panel:
    """One small chart per municipality of the region: the panel repeats over ``municipality``."""
    return (
        trend_panel(
            "${municipality:text}",
            MUNICIPALITY_BY_WEEK,
            w=6,
            h=7,
            description="a–d и доля активных педагогов МО по неделям. Пунктир — цели.",
        )
        .repeat("municipality")
        .repeat_direction("h")
        .max_per_row(4)
        .legend(cb.VizLegendOptions().show_legend(False).display_mode(common.LegendDisplayMode.HIDDEN))
    )


def tally_stat(kind: str) -> stat.Panel:
    title, description, _ = TALLIES[kind]
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(CLICKHOUSE)
        .with_target(ClickHouse(tally_sql(kind)))
        .span(6)
        .height(6)
        .reduce_options(reduce_last())
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.NONE)
        .orientation(common.VizOrientation.HORIZONTAL)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.FIXED).fixed_color(BLUE))
        .decimals(0)
    )
    for name in tally_sql(kind).columns:
        props = percent(TALLY_DISPLAY[name]) if name.endswith("_share") else named(TALLY_DISPLAY[name])
        panel = panel.override_by_name(name, props)
    return panel


def region_dynamics() -> table.Panel:
    return (
        ch_table(
            "Изменение долей за неделю",
            REGION_DYNAMICS,
            w=24,
            h=10,
            description="Все доли региона: эта неделя, предыдущая, изменение в процентных пунктах.",
        )
        .override_by_name(
            "metric", [*named("Доля"), prop("mappings", [value_map({m: (n, "text") for m, n in SHARE_NAMES.items()})])]
        )
        .override_by_name("share", percent("Эта неделя"))
        .override_by_name("prev_share", percent("Предыдущая неделя"))
        .override_by_name("delta_pp", pp("Изменение"))
        .override_by_name(
            "direction",
            [
                *named("Динамика"),
                prop("mappings", [value_map(DIRECTIONS)]),
                prop("custom.cellOptions", common.TableColorTextCellOptions()),
            ],
        )
    )


def level_table(metric: str) -> table.Panel:
    title, what = LEVEL_TABLES[metric]
    return (
        ch_table(
            title,
            levels_sql(metric),
            w=8,
            h=12,
            description=f"Доля {what}; уровни: низкий, достаточный, высокий (пороги — SFERUM_LEVEL_LOW / _HIGH).",
        )
        .override_by_name("municipality", named("Муниципальное образование"))
        .override_by_name("share", percent("Доля"))
        .override_by_name("level", [*named("Уровень"), prop("mappings", [value_map(LEVELS)]), *coloured_row()])
    )


def municipality_lists() -> table.Panel:
    return (
        ch_table(
            "Муниципальные образования: отсутствуют в ИКОП, отсутствуют регистрации, активные",
            MUNICIPALITY_LISTS_SQL,
            w=24,
            h=10,
        )
        .override_by_name(
            "list",
            [
                *named("Список"),
                prop("mappings", [value_map({k: (MUNICIPALITY_LISTS[k], c) for k, c in LISTS.items()})]),
                *coloured_row(),
            ],
        )
        .override_by_name("municipality", named("Муниципальное образование"))
    )


def region_board() -> Board:
    dashboard = (
        board(
            "sferum-region",
            "Сферум · регион",
            "Неделя региона, как на слайдах регионального центра: показатели a–d и цели, доли МО, школ, "
            "педагогов и учеников, уровни по МО, списки МО.",
            time_from="now-6M",
            refresh="5m",
        )
        .with_variable(clickhouse_variable("region", "Регион", REGION_VARIABLE))
        .with_variable(clickhouse_variable("week", "Неделя (понедельник)", WEEK_VARIABLE))
        .with_variable(clickhouse_variable("municipality", "МО", MUNICIPALITY_VARIABLE, every=True))
    )
    (
        Layout(dashboard)
        .row(
            "Показатели a–d: значение недели, цель и динамика",
            *(indicator_stat(k) for k in INDICATORS),
            indicators_vs_targets(),
            indicators_by_week(),
        )
        .row("Регистрация и активность", *(tally_stat(kind) for kind in TALLIES), region_dynamics())
        .row("Уровни по муниципальным образованиям", *(level_table(metric) for metric in LEVEL_TABLES))
        .row("Списки муниципальных образований", municipality_lists())
        .row("Показатели по неделям: муниципальные образования", municipality_by_week())
    )
    return Board("sferum-region.json", dashboard.build(), (REGION_VARIABLE, WEEK_VARIABLE, MUNICIPALITY_VARIABLE))


# (b) federal --------------------------------------------------------------------------------------

REGION_LINK = "/d/sferum-region/sferum-region?var-region=${__data.fields.region_id}&var-week=${week}"


def region_link() -> list[dm.DynamicConfigValue]:
    return [prop("links", [{"title": "Доска региона", "url": REGION_LINK}])]


def ranking_chart() -> barchart.Panel:
    return (
        barchart.Panel()
        .title(f"Рейтинг регионов по показателю b · цель ≥ {TARGETS_PCT['b']} %")
        .description(INDICATOR_TITLES["b"] + ". Пунктир — цель.")
        .datasource(CLICKHOUSE)
        .with_target(ClickHouse(RANKING_CHART))
        .span(12)
        .height(14)
        .x_field("region_name")
        .orientation(common.VizOrientation.HORIZONTAL)
        .show_value(common.VisibilityMode.ALWAYS)
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .axis_soft_max(TARGETS_PCT["b"] / 100 * 1.2)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .thresholds(target_thresholds("b"))
        .thresholds_style(dashed_target_line())
        .legend(cb.VizLegendOptions().show_legend(False).display_mode(common.LegendDisplayMode.HIDDEN))
        .override_by_name("b_share", named("b"))
    )


def band_props() -> list[dm.DynamicConfigValue]:
    return [*named("Диапазон"), prop("mappings", [value_map(BANDS)]), *coloured_row()]


def ranking_table() -> table.Panel:
    return (
        ch_table("Рейтинг по b", RANKING_TABLE, w=12, h=14, description="Щелчок по региону открывает его доску.")
        .override_by_name("rank", named("Место"))
        .override_by_name("region_id", hidden())
        .override_by_name("region_name", [*named("Регион"), *region_link()])
        .override_by_name("b_teachers", named("Педагогов с b"))
        .override_by_name("teachers_registered", named("Зарегистрировано"))
        .override_by_name("b_share", percent("b"))
        .override_by_name("delta_pp", pp("Изменение за неделю"))
        .override_by_name("band", band_props())
    )


def region_tiles() -> stat.Panel:
    """Every region as a tile with its code and b, coloured by the federal map's bands."""
    return (
        stat.Panel()
        .title("Карта регионов по b: 0–1 %, 1–5 %, 5–100 %")
        .description("Регион — плитка с кодом (ОРЛ — Орловская область) и показателем b, в цвете диапазона.")
        .datasource(CLICKHOUSE)
        .with_target(ClickHouse(REGION_TILES))
        .span(24)
        .height(12)
        .reduce_options(cb.ReduceDataOptions().calcs([]).values(True).fields("/^b_share$/"))
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.CENTER)
        .orientation(common.VizOrientation.AUTO)
        .unit("percentunit")
        .decimals(1)
        .thresholds(thresholds(BANDS["0-1%"][1], (0.01, BANDS["1-5%"][1]), (0.05, BANDS["5-100%"][1])))
    )


def region_map() -> table.Panel:
    return (
        ch_table(
            "Регионы по диапазонам b: 0–1 %, 1–5 %, 5–100 %",
            REGION_MAP,
            w=12,
            h=14,
            description="Регионы по алфавиту, в цвете диапазонов федеральной карты показателя b.",
        )
        .override_by_name("region_id", hidden())
        .override_by_name("region_name", [*named("Регион"), *region_link()])
        .override_by_name("b_share", percent("b"))
        .override_by_name("band", band_props())
    )


def targets_table() -> table.Panel:
    panel = (
        ch_table(
            "Регионы и цели a–d",
            TARGETS_TABLE,
            w=12,
            h=14,
            description="Зелёным — цель достигнута: "
            + ", ".join(f"{k} ≥ {TARGETS_PCT[k]} %" for k in INDICATORS)
            + ". Сравнение по числу педагогов, без округления.",
        )
        .override_by_name("region_id", hidden())
        .override_by_name("region_name", [*named("Регион"), *region_link()])
        .override_by_name("teachers_registered", named("Педагогов в ИКОП"))
        .override_by_name(
            "targets_met",
            [*named("Целей достигнуто"), *coloured_text(thresholds(RED, (2, YELLOW), (4, GREEN)))],
        )
    )
    for key in INDICATORS:
        panel = panel.override_by_name(f"{key}_share", [*percent(key), *coloured_text(target_thresholds(key))])
    return panel


def federal_dynamics() -> table.Panel:
    panel = (
        ch_table("Изменение за неделю, п. п.", FEDERAL_DYNAMICS, w=12, h=14)
        .override_by_name("region_id", hidden())
        .override_by_name("region_name", [*named("Регион"), *region_link()])
    )
    for key in INDICATORS:
        panel = panel.override_by_name(
            f"{key}_delta_pp",
            [*pp(key), *coloured_text(thresholds(RED, (0, "text"), (0.05, GREEN)))],
        )
    return panel


def b_by_week() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Показатель b по неделям")
        .description("Неделя — с понедельника 00:00 по Москве. Пунктир — цель.")
        .datasource(CLICKHOUSE)
        .with_target(ClickHouse(B_BY_WEEK, time_series=True))
        .span(12)
        .height(14)
        .unit("percentunit")
        .decimals(1)
        .min(0)
        .show_points(common.VisibilityMode.ALWAYS)
        .point_size(6)
        .thresholds(thresholds("transparent", (TARGETS_PCT["b"] / 100, "text")))
        .thresholds_style(dashed_target_line())
        .legend(legend(common.LegendPlacement.RIGHT))
        .display_name("${__field.labels.region_name}")
    )


def federal_board() -> Board:
    dashboard = board(
        "sferum-federal",
        "Сферум · федеральный уровень",
        "Регионы по показателю b, карта диапазонов, цели a–d и изменения за неделю.",
        time_from="now-6M",
        refresh="5m",
    ).with_variable(clickhouse_variable("week", "Неделя (понедельник)", WEEK_VARIABLE))
    (
        Layout(dashboard)
        .row("Рейтинг регионов", ranking_chart(), ranking_table())
        .row("Карта регионов по диапазонам b", region_tiles())
        .row("Диапазоны и цели", region_map(), targets_table())
        .row("Динамика", federal_dynamics(), b_by_week())
    )
    return Board("sferum-federal.json", dashboard.build(), (WEEK_VARIABLE,))


# (c) ingestion, from Prometheus --------------------------------------------------------------------


def promql(expr: str, legend_format: str, *, ref_id: str = "A", instant: bool = False) -> prom.Dataquery:
    query = (
        prom.Dataquery()
        .expr(textwrap.dedent(expr).strip())
        .legend_format(legend_format)
        .ref_id(ref_id)
        .datasource(PROMETHEUS)
        .editor_mode(prom_models.QueryEditorMode.CODE)
    )
    return query.instant() if instant else query.range()


def series(title: str, unit: str, *targets: prom.Dataquery, w: int = 12, description: str = "") -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(PROMETHEUS)
        .targets(list(targets))
        .span(w)
        .height(8)
        .unit(unit)
        .min(0)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .legend(legend())
    )
    return panel.description(description) if description else panel


def per_worker_stat(
    title: str, unit: str, target: prom.Dataquery, steps: db.ThresholdsConfig, *, w: int = 6
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .datasource(PROMETHEUS)
        .with_target(target)
        .span(w)
        .height(5)
        .unit(unit)
        .reduce_options(reduce_last())
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .thresholds(steps)
    )


def kpi_share_series(key: str) -> timeseries.Panel:
    return series(
        f"{INDICATOR_SHORT[key]} · цель {TARGETS_PCT[key]} %",
        "percentunit",
        promql(f'region_indicator:sferum_kpi_share:ratio{{indicator="{key}"}}', "{{region}}"),
        promql(f'indicator:sferum_kpi_target:ratio{{indicator="{key}"}}', "цель", ref_id="B"),
        w=6,
        description="Текущая неделя, по состоянию воркеров (sferum_kpi_teachers), до записи в ClickHouse.",
    ).override_by_name(
        "цель",
        [
            prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
            prop("custom.fillOpacity", 0),
            prop("color", {"mode": "fixed", "fixedColor": "text"}),
        ],
    )


def ingestion_board() -> Board:
    dashboard = board(
        "sferum-ingestion",
        "Сферум · ingestion",
        "sferum-kpi workers: throughput, rejections, lag, ClickHouse flushes, partitions, and the KPI "
        "shares per region from the recording rules.",
        time_from="now-6h",
        refresh="30s",
    )
    rate = "$__rate_interval"
    Layout(dashboard).row(
        "Throughput",
        series(
            "Consumed by type",
            "cps",
            promql("sum by (type) (job_type:sferum_events_consumed:rate5m)", "{{type}}"),
            w=8,
            description='Messages read from the input topics per second; type="invalid" did not decode.',
        ),
        series(
            "Counted, ignored, duplicates",
            "cps",
            promql(f"sum by (type) (rate(sferum_events_counted_total{{{JOB}}}[{rate}]))", "counted {{type}}"),
            promql(f"sum(rate(sferum_events_ignored_total{{{JOB}}}[{rate}]))", "ignored", ref_id="B"),
            promql(f"sum(rate(sferum_events_duplicate_total{{{JOB}}}[{rate}]))", "duplicate", ref_id="C"),
            w=8,
        ),
        series(
            "Rejected by reason",
            "cps",
            promql("sum by (reason) (job_reason:sferum_events_rejected:rate5m)", "{{reason}}"),
            w=8,
            description="Dead-lettered messages per second (headers reason, detail, source_*).",
        ),
        series(
            "Dead-letter ratio (15 min)",
            "percentunit",
            promql("job:sferum_events_rejected:ratio_rate15m", "{{job}}"),
            w=8,
            description="Rejected / consumed; SferumDeadLetterRateHigh fires above 5 %.",
        )
        .thresholds(thresholds(GREEN, (0.05, RED)))
        .thresholds_style(dashed_target_line()),
        series(
            "Rows flushed to ClickHouse",
            "rps",
            promql(f"sum by (instance) (rate(sferum_flush_rows_total{{{JOB}}}[{rate}]))", "{{instance}}"),
            w=8,
        ),
        series(
            "Late events",
            "cps",
            promql(f"sum by (instance) (rate(sferum_events_late_total{{{JOB}}}[{rate}]))", "{{instance}}"),
            w=8,
            description="Also counted in rejected, reason late.",
        ),
    ).row(
        "Lag",
        series(
            "Consumer lag by topic",
            "short",
            promql("job_topic:sferum_consumer_lag_messages:sum", "{{topic}}"),
            w=8,
            description="Unprocessed messages over the whole group; SferumConsumerLagGrowing above 10 000 and growing.",
        )
        .thresholds(thresholds(GREEN, (10000, RED)))
        .thresholds_style(dashed_target_line()),
        series(
            "Consumer lag by worker and partition",
            "short",
            promql(
                f"sum by (instance, topic, partition) (sferum_consumer_lag_messages{{{JOB}}})",
                "{{instance}} {{topic}}/{{partition}}",
            ),
            w=8,
        ),
        series(
            "Event lag (wall clock − newest event time)",
            "s",
            promql(f"max by (instance, partition) (sferum_event_lag_seconds{{{JOB}}})", "{{instance}} p{{partition}}"),
            w=8,
        ),
    ).row(
        "Flushes to ClickHouse",
        series(
            "Flush duration p50 / p99",
            "s",
            promql(
                f"histogram_quantile(0.5, sum by (le) (rate(sferum_flush_duration_seconds_bucket{{{JOB}}}[{rate}])))",
                "p50",
            ),
            promql(
                f"histogram_quantile(0.99, sum by (le) (rate(sferum_flush_duration_seconds_bucket{{{JOB}}}[{rate}])))",
                "p99",
                ref_id="B",
            ),
            w=8,
        ),
        series(
            "Flush failures",
            "short",
            promql(f"sum by (instance) (increase(sferum_flush_failures_total{{{JOB}}}[{rate}]))", "{{instance}}"),
            w=8,
            description="Failed ClickHouse writes (retried with backoff); SferumFlushFailing fires on any.",
        ).draw_style(common.GraphDrawStyle.BARS),
        series(
            "Pending rows",
            "short",
            promql(f"sum by (instance) (sferum_flush_pending_rows{{{JOB}}})", "{{instance}}"),
            w=8,
            description="Rows waiting for the next flush (bounded by SFERUM_FLUSH_MAX_PENDING_EVENTS).",
        ),
        per_worker_stat(
            "Time since last successful flush",
            "s",
            promql(f"time() - sferum_flush_last_success_timestamp_seconds{{{JOB}}}", "{{instance}}", instant=True),
            thresholds(GREEN, (60, YELLOW), (300, RED)),
            w=8,
        ).description("SferumLastFlushTooOld fires above 5 minutes on a worker with work to flush."),
        per_worker_stat(
            "Age of the stored indicators",
            "s",
            promql(f"time() - sferum_kpi_current_as_of_timestamp_seconds{{{JOB}}}", "{{instance}}", instant=True),
            thresholds(GREEN, (120, YELLOW), (600, RED)),
            w=8,
        ).description(
            "How far kpi_unit_week (what the boards read) lags behind the rows each worker wrote; refreshed "
            "every SFERUM_KPI_REFRESH_INTERVAL_S (30 s). SferumIndicatorsStale fires above 10 minutes."
        ),
        per_worker_stat(
            "Assigned partitions per worker",
            "short",
            promql(f"sum by (instance) (sferum_assigned_partitions{{{JOB}}})", "{{instance}}", instant=True),
            thresholds(RED, (1, BLUE)),
            w=8,
        ).description("A worker with 0 partitions idles (more workers than SFERUM_PARTITIONS, or a rebalance)."),
        per_worker_stat(
            "Workers up",
            "short",
            promql(f"up{{{JOB}}}", "{{instance}}", instant=True),
            thresholds(RED, (1, GREEN)),
            w=8,
        ).mappings([value_map({"0": ("down", RED), "1": ("up", GREEN)})]),
    ).row(
        "KPI shares per region, current week (recording rules)",
        *(kpi_share_series(key) for key in INDICATORS),
    )
    return Board("sferum-ingestion.json", dashboard.build())


# ---------------------------------------------------------------------------------------------------


def boards() -> list[Board]:
    return [region_board(), federal_board(), ingestion_board()]


def iter_panels(panels: Sequence[object] | None) -> Iterator[dm.Panel]:
    for panel in panels or ():
        if isinstance(panel, dm.RowPanel):
            yield from iter_panels(panel.panels)
        elif isinstance(panel, dm.Panel):
            yield panel


def clickhouse_queries(board_: Board) -> list[Sql]:
    """Every ClickHouse query of a board: its variables' and its panels'."""
    found = list(board_.variables)
    for panel in iter_panels(board_.dashboard.panels):
        found.extend(t.sql for t in panel.targets or () if isinstance(t, ClickHouseQuery))
    return found


def write(out_dir: Path = OUT_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for b in boards():
        path = out_dir / b.filename
        path.write_text(b.json(), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output directory (default: {OUT_DIR})")
    args = parser.parse_args(argv)
    for path in write(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
