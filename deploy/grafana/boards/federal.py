"""``sferum-federal``: regions ranked by b, the regions as tiles coloured by the federal bands
0–1 %, 1–5 %, 5–100 %, every region against the four targets, week-over-week changes. Variable
``week``."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from sinks.indicators import TARGETS_PCT
from stream.tools.report.labels import INDICATOR_TITLES
from stream.tools.report.regions import SUBJECTS

from .common import CLICKHOUSE, GREEN, INDICATORS, ORANGE, RED, TIMEZONE, YELLOW, ClickHouse, Sql
from .layout import Board, Layout, board, clickhouse_variable
from .panels import (
    ch_table,
    coloured_row,
    coloured_text,
    dashed_target_line,
    hidden,
    legend,
    named,
    percent,
    pp,
    prop,
    target_thresholds,
    thresholds,
    value_map,
)
from .sql import WEEK, WEEK_VARIABLE, WEEKS_IN_RANGE

BANDS = {"0-1%": ("0–1 %", RED), "1-5%": ("1–5 %", ORANGE), "5-100%": ("5–100 %", GREEN)}

# ClickHouse queries ------------------------------------------------------------------------------

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
#: else the first three letters of the name; constants of stream.tools.report.regions, not user input
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


# Panels ------------------------------------------------------------------------------------------

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
