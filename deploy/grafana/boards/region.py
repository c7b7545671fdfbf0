"""``sferum-region``: a region's week as the regional centre's slides show it: indicators a–d
against the targets with the change from the previous week, their trends (the region, and one
small chart per municipality), registration and activity of municipalities, schools, teachers
and students, the municipality tables by level (each with its denominator), the municipality
lists. Variables ``region``, ``week`` and ``municipality`` (the small charts repeat over it)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from sinks.indicators import TARGETS_PCT
from stream.tools.report.labels import (
    ACTIVE_MUNICIPALITY,
    INDICATOR_NOTES,
    INDICATOR_SHORT,
    INDICATOR_TITLES,
    MUNICIPALITY_LISTS,
    TREND_NAMES,
)

from .common import BLUE, CLICKHOUSE, GREEN, INDICATORS, ORANGE, RED, TIMEZONE, YELLOW, ClickHouse, Sql
from .layout import Board, Layout, board, clickhouse_variable
from .panels import (
    ch_table,
    coloured_row,
    dashed_target_line,
    legend,
    named,
    percent,
    pp,
    prop,
    reduce_last,
    target_thresholds,
    thresholds,
    value_map,
)
from .sql import MUNICIPALITY_VARIABLE, REGION, REGION_VARIABLE, WEEK, WEEK_VARIABLE, WEEKS_IN_RANGE, region_filter

LEVELS = {"low": ("низкий", RED), "sufficient": ("достаточный", YELLOW), "high": ("высокий", GREEN)}
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


# ClickHouse queries ------------------------------------------------------------------------------


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


# Panels ------------------------------------------------------------------------------------------


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
