"""The report as one self-contained HTML page (inline CSS and SVG charts, no script, no external
reference), for a regional centre to send to its municipalities, or to print as PDF (A4, each
section from a new page). Same sections as the terminal, plus the trend charts and the map.

Every name from the registry goes through ``html.escape``; numbers are formatted by ``labels``.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from sinks.indicators import TARGETS_PCT
from stream.tools.report import labels
from stream.tools.report.data import LEVEL_METRICS, Change, RankedRegion, RegionReport, Report, Tally, name_key
from stream.tools.report.map_svg import band_legend, region_map
from stream.tools.report.style import CSS
from stream.tools.report.svg import LEVEL_COLOURS, MET_COLOURS, indicator_chart, level_chart, ranking_chart
from stream.tools.report.trend_chart import legend, region_chart, scale_max, small_multiples


def render_html(report: Report) -> str:
    """The whole page as a string (write it as UTF-8)."""
    region = report.region
    place = region.name if region else "Субъекты Российской Федерации"
    title = f"«Сферум»: {place}, {labels.week_title(report.week)}"
    if region is None:
        body = _section("federal", "Субъекты РФ по показателю b", _federal(report))
    else:
        body = "\n".join(
            (
                _section("indicators", "1. Показатели субъекта РФ", _indicators(region)),
                _section(
                    "shares",
                    "2. Муниципальные образования, школы, педагоги и ученики в ИКОП «Сферум»",
                    _tallies(region),
                ),
                _section("trends", "3. Показатели по неделям", _trends(region)),
                _section("levels", "4. Уровни по муниципальным образованиям", _levels(region, report.levels)),
                _section("lists", "5. Списки муниципальных образований", _lists(region)),
                _section("ranking", "6. Субъекты РФ по показателю b", _ranking(report, region.region_id)),
            )
        )
    low, high = (labels.whole_pct(x) for x in report.levels)
    return f"""<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<p class="kicker">ИКОП «Сферум» · ФГИС «Моя школа» · еженедельные показатели</p>
<h1>{escape(place)}</h1>
<p class="week">Неделя {report.week.isocalendar().week}: {labels.week_span(report.week)}</p>
</header>
{body}
<footer>
Неделя — с понедельника 00:00 до понедельника 00:00 по московскому времени. Показатели a–d и доля активных
педагогов — от зарегистрированных в ИКОП «Сферум» педагогов; у каждого списка уровней своя база, она указана
под его заголовком. Уровни: низкий — менее {low}, достаточный — {low}–{high}, высокий — более {high}.
Динамика — изменение доли к предыдущей неделе в процентных пунктах (п. п.).
</footer>
</main>
</body>
</html>
"""


def _section(anchor: str, heading: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{escape(heading)}</h2>\n{body}\n</section>'


def _change(change: Change, *, prefix: str = "Динамика за неделю: ") -> str:
    if change.prev_share is None or change.delta_pp is None:
        return f'<div class="dyn none">{escape(prefix)}нет данных за прошлую неделю</div>'
    arrow = {"growth": "▲", "fall": "▼"}.get(change.direction, "●")
    word = labels.DIRECTIONS.get(change.direction, change.direction)
    return (
        f'<div class="dyn {escape(change.direction)}">{escape(prefix)}{arrow} {escape(word)}, '
        f"{escape(labels.pp(change.delta_pp))}</div>"
    )


# --- 1. indicators -------------------------------------------------------------------------------


def _indicators(region: RegionReport) -> str:
    cards = []
    for ind in region.indicators:
        badge = (
            '<span class="badge met">цель достигнута</span>'
            if ind.met
            else '<span class="badge unmet">цель не достигнута</span>'
        )
        cards.append(
            f"""<div class="card ind"><div class="head">
<h4>{ind.key}) {escape(labels.INDICATOR_TITLES[ind.key])}</h4>
<p class="note">{escape(labels.INDICATOR_NOTES[ind.key])}</p></div>
<div class="big" style="color:{MET_COLOURS[ind.met]}">{labels.pct(ind.share)}</div>
<div class="count">{ind.teachers} из {ind.teachers_registered} учителей · цель ≥ {ind.target_pct}%</div>
<div style="margin-top:6px">{badge}</div>
{_change(ind.change)}
</div>"""
        )
    legend_ = (
        f'<p class="legend"><span style="background:{MET_COLOURS[True]}"></span>цель достигнута'
        f'<span style="background:{MET_COLOURS[False]}"></span>не достигнута'
        '<span style="background:#1d2430;width:3px"></span>целевое значение</p>'
    )
    return f'{legend_}{indicator_chart(region.indicators)}\n<div class="grid g4">{"".join(cards)}</div>'


# --- 2. tallies ----------------------------------------------------------------------------------


def _tallies(region: RegionReport) -> str:
    def card(title: str, rows: Iterable[tuple[str, int, float | None]], extra: str = "") -> str:
        cells = "".join(
            f'<tr><td>{escape(name)}</td><td class="p">{"" if share is None else labels.pct(share)}</td>'
            f'<td class="n">{n}</td></tr>'
            for name, n, share in rows
        )
        return f'<div class="card"><h4>{escape(title)}</h4><table class="tally">{cells}</table>{extra}</div>'

    def org(title: str, total_label: str, t: Tally, extra_rows: Iterable[tuple[str, int, float | None]] = ()) -> str:
        rows = [(total_label, t.total, None), ("В ИКОП «Сферум»", t.registered, t.registered_share)]
        rows.append(("Активных", t.active or 0, t.active_share))
        rows += extra_rows
        changes = _change(t.registered_change, prefix="Динамика доли в ИКОП: ")
        changes += _change(t.active_change, prefix="Динамика доли активных: ")
        return card(title, rows, changes)

    students = region.students
    student_rows = [
        ("Всего", students.total, None),
        ("В ИКОП «Сферум»", students.registered, students.registered_share),
        ("из них родителями", region.students_registered_by_parent, None),
    ]
    staff = [("Сотрудников МО в ИКОП «Сферум»", region.staff_registered, None)]
    staff.append(("из сотрудников МО по реестру", region.staff_total, None))
    cards = [
        org("Муниципальные образования", "Всего", region.municipalities, staff),
        org("Школы", "Всего (с филиалами)", region.schools),
        org("Педагоги", "Всего", region.teachers),
        card("Ученики", student_rows, _change(students.registered_change, prefix="Динамика доли: ")),
    ]
    defs = "".join(
        f"<li>{escape(text)}.</li>"
        for text in (
            "Доля в ИКОП «Сферум» — от всех по реестру; доля активных — от зарегистрированных в ИКОП «Сферум»",
            labels.ACTIVE_MUNICIPALITY,
            labels.ACTIVE_SCHOOL,
            labels.ACTIVE_TEACHER,
        )
    )
    important = f'<div class="important"><b>ВАЖНО!</b> {escape(labels.STUDENTS_NOTE)}</div>'
    return f'<div class="grid g4">{"".join(cards)}</div>\n<ul class="defs">{defs}</ul>\n{important}'


# --- 3. trends -----------------------------------------------------------------------------------


def _trends(region: RegionReport) -> str:
    trends = region.trends
    y_max = scale_max(trends.municipalities)
    return (
        f'<p class="sub">Все недели с данными по неделю отчёта; доли от зарегистрированных педагогов. '
        f"Цели: {', '.join(f'{k} ≥ {p}%' for k, p in TARGETS_PCT.items())}.</p>"
        f"{legend()}{region_chart(trends, scale_max([trends.region]))}"
        f"<h3>По муниципальным образованиям</h3>"
        f'<p class="sub">Одна шкала для всех (0–{labels.whole_pct(y_max)}).</p>{small_multiples(trends, y_max)}'
    )


# --- 4. levels -----------------------------------------------------------------------------------


def _levels(region: RegionReport, levels: tuple[float, float]) -> str:
    legend_ = '<p class="legend">' + "".join(
        f'<span style="background:{LEVEL_COLOURS[level]}"></span>{escape(labels.level_title(level, levels))}'
        for level in labels.LEVEL_ORDER
    )
    legend_ += "</p>"
    blocks = [legend_]
    for metric in LEVEL_METRICS:
        title, what = labels.LEVEL_SECTIONS[metric]
        items = region.levels.get(metric, ())
        columns = []
        for level in labels.LEVEL_ORDER:
            members = [m for m in items if m.level == level]
            entries = (
                "".join(
                    f'<li title="{m.count} из {m.of}">{escape(m.name)}<span class="v">{labels.pct(m.share)}</span></li>'
                    for m in members
                )
                or '<li class="empty">нет</li>'
            )
            columns.append(
                f'<div class="card list {level}"><h4>{escape(labels.level_title(level, levels))}: {len(members)}</h4>'
                f"<ol>{entries}</ol></div>"
            )
        blocks.append(
            f'<h3 data-metric="{metric}">{escape(title)}</h3>'
            f'<p class="sub">Доля {escape(what)}, по муниципальным образованиям</p>'
            f"{level_chart(items, levels, title)}"
            f'<div class="grid g3">{"".join(columns)}</div>'
        )
    return "\n".join(blocks)


# --- 5. municipality lists -----------------------------------------------------------------------


def _lists(region: RegionReport) -> str:
    columns = []
    for key, heading in labels.MUNICIPALITY_LISTS.items():
        names = region.lists.get(key, ())
        entries = "".join(f"<li>{escape(name)}</li>" for name in names) or '<li class="empty">нет</li>'
        columns.append(
            f'<div class="card list" data-list="{key}"><h4>{escape(heading)}: {len(names)}</h4>'
            f'<p class="note">{escape(labels.MUNICIPALITY_LIST_NOTES[key])}.</p><ul>{entries}</ul></div>'
        )
    return f'<div class="grid g3">{"".join(columns)}</div>'


# --- 6. ranking and the map ----------------------------------------------------------------------


def _top_and_zero(report: Report, selected: str | None) -> str:
    """The slide's two lists: the best regions by b (at most 7, above 0 %) and every region at 0 %."""

    def item(r: RankedRegion, value: bool) -> str:
        mark = r.region_id == selected
        shown = f"{escape(r.name)}{' ◀' if mark else ''}"
        v = f'<span class="v">{labels.pct(r.b_share)}</span>' if value else ""
        cls = ' class="sel"' if mark else ""
        return f"<li{cls}>{v}{shown}</li>"  # the value first: it floats right on the name's first line

    top = "".join(item(r, True) for r in report.top) or '<li class="empty">нет регионов с показателем выше 0%</li>'
    zero = "".join(item(r, False) for r in report.zero) or '<li class="empty">нет</li>'
    return (
        f'<div class="card list" id="top"><h4>Регионы с лучшими показателями</h4><ol>{top}</ol></div>'
        f'<div class="card list" id="zero" style="margin-top:12px"><h4>Регионы с низкими показателями (0%): '
        f"{len(report.zero)}</h4><ul>{zero}</ul></div>"
    )


def _map(report: Report, selected: str | None) -> str:
    return f"<h3>Карта субъектов РФ</h3>{band_legend()}{region_map(report.regions, report.ranking, selected)}"


def _ranking(report: Report, selected: str) -> str:
    top = list(report.top)
    shown = {r.region_id for r in (*top, *report.zero)}
    extra = [r for r in report.ranking if r.region_id == selected and r.region_id not in shown]
    chart = (
        ranking_chart([*top, *([None] if top and extra else []), *extra], selected, "Регионы с лучшими показателями")
        if top or extra
        else '<p class="sub">Нет регионов с показателем выше 0%.</p>'
    )
    return (
        f'<p class="sub">{escape(labels.INDICATOR_TITLES["b"])}; цель ≥ {TARGETS_PCT["b"]}%. '
        "Выбранный субъект выделен.</p>"
        f'<div class="side"><div>{_map(report, selected)}</div><div>{_top_and_zero(report, selected)}</div></div>'
        f"<h3>Регионы с лучшими показателями и выбранный субъект</h3>{chart}"
    )


def _federal(report: Report) -> str:
    rows = "".join(
        f"<li>{escape(r.region_id)} — {escape(r.name)}</li>"
        for r in sorted(report.ranking, key=lambda r: (name_key(r.name), r.region_id))
    )
    chart = ranking_chart(report.ranking, None, "Все субъекты РФ по показателю b") if report.ranking else ""
    return (
        f'<p class="sub">{escape(labels.INDICATOR_TITLES["b"])}; цель ≥ {TARGETS_PCT["b"]}%.</p>'
        f'<div class="side"><div>{_map(report, None)}</div><div>{_top_and_zero(report, None)}</div></div>'
        f"<h3>Все субъекты РФ</h3>{chart}"
        f'<div class="important">Регионов: {len(report.regions)}. Страницы региона: '
        f"<code>sferum-kpi report --region ID --format html --output FILE</code>.</div>"
        f'<div class="list"><ul class="cols">{rows}</ul></div>'
    )
