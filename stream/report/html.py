"""The report as one self-contained HTML page (inline CSS and SVG charts, no script, no external
reference), for a regional centre to send to its municipalities. Same sections as the terminal.

Every name from the registry goes through ``html.escape``; numbers are formatted by ``labels``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from stream.report import labels
from stream.report.data import (
    TARGETS_PCT,
    Change,
    Indicator,
    MunicipalityShare,
    RankedRegion,
    RegionReport,
    Report,
    Tally,
    name_key,
)

LEVEL_COLOURS = {"low": "#d64541", "sufficient": "#f0a202", "high": "#2e9e5b"}
MET_COLOURS = {True: "#2e9e5b", False: "#d64541"}
SELECTED_COLOUR = "#1f6fd1"
OTHER_COLOUR = "#8aa4c8"
#: longest name drawn in a chart row; longer ones are cut and shown whole in a tooltip
CHART_NAME_CHARS = 34

CSS = """
:root { --ink: #1d2430; --muted: #5f6b7a; --line: #dde3ea; --card: #f6f8fb; --accent: #1f6fd1; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
       font: 15px/1.45 "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 40px; }
header { border-bottom: 4px solid var(--accent); padding-bottom: 14px; margin-bottom: 8px; }
.kicker { margin: 0; color: var(--muted); font-size: 13px; letter-spacing: .04em; text-transform: uppercase; }
h1 { margin: 4px 0 2px; font-size: 30px; }
.week { margin: 0; font-size: 17px; }
h2 { font-size: 21px; margin: 30px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 17px; margin: 22px 0 2px; }
.sub { color: var(--muted); font-size: 13px; margin: 0 0 10px; }
.grid { display: grid; gap: 14px; }
.g4 { grid-template-columns: repeat(4, 1fr); }
.g3 { grid-template-columns: repeat(3, 1fr); }
.g2 { grid-template-columns: repeat(2, 1fr); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card h4 { margin: 0 0 4px; font-size: 14px; font-weight: 600; }
.ind { display: flex; flex-direction: column; } .ind .head { flex: 1; }
.card .note { color: var(--muted); font-size: 12px; margin: 0 0 8px; }
.big { font-size: 30px; font-weight: 700; line-height: 1.1; }
.count { color: var(--muted); font-size: 13px; }
.badge { display: inline-block; border-radius: 10px; padding: 1px 8px; font-size: 12px; font-weight: 600; color: #fff; }
.met { background: #2e9e5b; } .unmet { background: #d64541; }
.dyn { font-size: 13px; margin-top: 6px; }
.growth { color: #2e9e5b; } .fall { color: #d64541; } .none { color: var(--muted); }
table.tally { width: 100%; border-collapse: collapse; font-size: 14px; }
table.tally td { padding: 3px 0; border-bottom: 1px solid var(--line); }
table.tally td.n { text-align: right; font-weight: 600; white-space: nowrap; padding-left: 8px; }
table.tally td.p { text-align: right; color: var(--muted); white-space: nowrap; padding-left: 8px; width: 64px; }
.defs { color: var(--muted); font-size: 12.5px; margin: 10px 0 0; padding-left: 18px; }
.important { border-left: 4px solid #f0a202; background: #fff8e8; padding: 8px 12px; font-size: 13px;
              margin-top: 12px; }
svg { display: block; width: 100%; height: auto; margin: 6px 0 4px; }
svg text { font-family: inherit; font-size: 13px; fill: var(--ink); }
svg .axis { font-size: 11px; fill: var(--muted); }
svg .val { font-weight: 600; }
.legend { font-size: 13px; color: var(--muted); margin: 0 0 4px; }
.legend span { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin: 0 4px 0 12px;
               vertical-align: -1px; }
.list h4 { margin: 0 0 6px; font-size: 14px; }
.list ol, .list ul { margin: 0; padding-left: 20px; font-size: 14px; }
.list li { margin: 1px 0; }
.list .v { float: right; font-weight: 600; }
.list .empty { color: var(--muted); font-size: 13px; list-style: none; margin-left: -20px; }
.low h4 { color: #b8322e; } .sufficient h4 { color: #a86f00; } .high h4 { color: #23794a; }
.sel { font-weight: 700; color: var(--accent); }
.cols { columns: 3; column-gap: 24px; }
footer { margin-top: 34px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@page { size: A4; margin: 12mm; }
@media print { main { padding: 0; } section, .card, svg { break-inside: avoid; } }
@media (max-width: 800px) { .g4, .g3, .g2 { grid-template-columns: 1fr; } .cols { columns: 1; } }
"""


def render_html(report: Report) -> str:
    """The whole page as a string (write it as UTF-8)."""
    region = report.region
    place = region.name if region else "Субъекты Российской Федерации"
    title = f"«Сферум»: {place}, {labels.week_title(report.week)}"
    if region is None:
        body = _federal(report)
    else:
        body = "\n".join(
            (
                _section("indicators", "1. Показатели субъекта РФ", _indicators(region)),
                _section(
                    "shares",
                    "2. Муниципальные образования, школы, педагоги и ученики в ИКОП «Сферум»",
                    _tallies(region),
                ),
                _section("levels", "3. Уровни по муниципальным образованиям", _levels(region, report.levels)),
                _section("lists", "4. Списки муниципальных образований", _lists(region)),
                _section("ranking", "5. Субъекты РФ по показателю b", _ranking(report, region.region_id)),
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
Неделя — с понедельника 00:00 до понедельника 00:00 по московскому времени. Доли педагогов — от
зарегистрированных в ИКОП «Сферум» педагогов. Уровни: низкий — менее {low}, достаточный — {low}–{high},
высокий — более {high}. Динамика — изменение доли к предыдущей неделе в процентных пунктах (п. п.).
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
    legend = (
        f'<p class="legend"><span style="background:{MET_COLOURS[True]}"></span>цель достигнута'
        f'<span style="background:{MET_COLOURS[False]}"></span>не достигнута'
        '<span style="background:#1d2430;width:3px"></span>целевое значение</p>'
    )
    return f'{legend}{_indicator_chart(region.indicators)}\n<div class="grid g4">{"".join(cards)}</div>'


def _indicator_chart(indicators: Sequence[Indicator]) -> str:
    label_w, x0, bar_w, row_h, bar_h, top = 270, 280, 600, 42, 20, 22
    width, height = x0 + bar_w + 70, top + row_h * len(indicators) + 4
    parts = [_axis(x0, bar_w, top, height - 4, (0, 25, 50, 75, 100))]
    for i, ind in enumerate(indicators):
        y = top + i * row_h + (row_h - bar_h) // 2
        w = ind.share * bar_w
        tx = x0 + ind.target * bar_w
        parts.append(
            f'<text x="{label_w}" y="{y + bar_h - 5}" text-anchor="end">'
            f"{escape(labels.INDICATOR_SHORT[ind.key])}</text>"
            f'<rect x="{x0}" y="{y}" width="{bar_w}" height="{bar_h}" fill="#eef1f5"/>'
            f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{MET_COLOURS[ind.met]}">'
            f"<title>{escape(labels.INDICATOR_TITLES[ind.key])}: {labels.pct(ind.share)}</title></rect>"
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y - 5}" y2="{y + bar_h + 5}" stroke="#1d2430" stroke-width="3"/>'
            f'<text class="axis" x="{tx + 4:.1f}" y="{y - 2}">цель {ind.target_pct}%</text>'
            f'<text class="val" x="{x0 + max(w, 0) + 6:.1f}" y="{y + bar_h - 5}">{labels.pct(ind.share)}</text>'
        )
    return _svg(width, height, parts, "Четыре показателя и целевые значения")


# --- 2. tallies ----------------------------------------------------------------------------------


def _tallies(region: RegionReport) -> str:
    def card(title: str, rows: Iterable[tuple[str, int, float | None]], extra: str = "") -> str:
        cells = "".join(
            f'<tr><td>{escape(name)}</td><td class="p">{"" if share is None else labels.pct(share)}</td>'
            f'<td class="n">{n}</td></tr>'
            for name, n, share in rows
        )
        return f'<div class="card"><h4>{escape(title)}</h4><table class="tally">{cells}</table>{extra}</div>'

    def org(title: str, total_label: str, t: Tally) -> str:
        rows = [(total_label, t.total, None), ("В ИКОП «Сферум»", t.registered, t.registered_share)]
        rows.append(("Активных", t.active or 0, t.active_share))
        return card(title, rows, _change(t.active_change, prefix="Динамика доли активных: "))

    students = region.students
    student_rows = [
        ("Всего", students.total, None),
        ("В ИКОП «Сферум»", students.registered, students.registered_share),
        ("из них родителями", region.students_registered_by_parent, None),
    ]
    cards = [
        org("Муниципальные образования", "Всего", region.municipalities),
        org("Школы", "Всего (с филиалами)", region.schools),
        org("Педагоги", "Всего", region.teachers),
        card("Ученики", student_rows, _change(students.registered_change, prefix="Динамика доли: ")),
    ]
    defs = "".join(
        f"<li>{escape(text)}.</li>"
        for text in (
            "Доля активных — от зарегистрированных в ИКОП «Сферум»",
            labels.ACTIVE_MUNICIPALITY,
            labels.ACTIVE_SCHOOL,
            labels.ACTIVE_TEACHER,
        )
    )
    important = f'<div class="important"><b>ВАЖНО!</b> {escape(labels.STUDENTS_NOTE)}</div>'
    return f'<div class="grid g4">{"".join(cards)}</div>\n<ul class="defs">{defs}</ul>\n{important}'


# --- 3. levels -----------------------------------------------------------------------------------


def _levels(region: RegionReport, levels: tuple[float, float]) -> str:
    legend = '<p class="legend">' + "".join(
        f'<span style="background:{LEVEL_COLOURS[level]}"></span>{escape(labels.level_title(level, levels))}'
        for level in labels.LEVEL_ORDER
    )
    legend += "</p>"
    blocks = [legend]
    for metric, (title, what) in labels.LEVEL_SECTIONS.items():
        items = region.levels.get(metric, ())
        columns = []
        for level in labels.LEVEL_ORDER:
            members = [m for m in items if m.level == level]
            entries = (
                "".join(f'<li>{escape(m.name)}<span class="v">{labels.pct(m.share)}</span></li>' for m in members)
                or '<li class="empty">нет</li>'
            )
            columns.append(
                f'<div class="card list {level}"><h4>{escape(labels.level_title(level, levels))}: {len(members)}</h4>'
                f"<ol>{entries}</ol></div>"
            )
        blocks.append(
            f'<h3>{escape(title)}</h3><p class="sub">{escape(what)}, по муниципальным образованиям</p>'
            f"{_level_chart(items, levels, title)}"
            f'<div class="grid g3">{"".join(columns)}</div>'
        )
    return "\n".join(blocks)


def _level_chart(items: Sequence[MunicipalityShare], levels: tuple[float, float], title: str) -> str:
    if not items:
        return '<p class="sub">Нет муниципальных образований.</p>'
    label_w, x0, bar_w, row_h, bar_h, top = 270, 280, 600, 24, 16, 22
    width, height = x0 + bar_w + 70, top + row_h * len(items) + 4
    parts = [_axis(x0, bar_w, top, height - 4, (0, 25, 50, 75, 100))]
    for i, m in enumerate(items):
        y = top + i * row_h + (row_h - bar_h) // 2
        w = m.share * bar_w
        parts.append(
            f"{_name_text(m.name, label_w, y + bar_h - 3)}"
            f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{LEVEL_COLOURS.get(m.level, "#999")}">'
            f"<title>{escape(m.name)}: {labels.pct(m.share)} ({escape(labels.LEVEL_NAMES.get(m.level, m.level))})"
            f"</title></rect>"
            f'<text class="val" x="{x0 + w + 6:.1f}" y="{y + bar_h - 3}">{labels.pct(m.share)}</text>'
        )
    for threshold in levels:
        x = x0 + threshold * bar_w
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - 4}" stroke="#5f6b7a" '
            'stroke-dasharray="4 3" stroke-width="1.5"/>'
        )
    return _svg(width, height, parts, title)


# --- 4. municipality lists -----------------------------------------------------------------------


def _lists(region: RegionReport) -> str:
    columns = []
    for key, heading in labels.MUNICIPALITY_LISTS.items():
        names = region.lists.get(key, ())
        entries = "".join(f"<li>{escape(name)}</li>" for name in names) or '<li class="empty">нет</li>'
        columns.append(f'<div class="card list"><h4>{escape(heading)}: {len(names)}</h4><ul>{entries}</ul></div>')
    note = (
        '<p class="sub">«Отсутствуют регистрации педагогов» — МО зарегистрировано, но ни один его педагог '
        "не зарегистрирован в ИКОП «Сферум».</p>"
    )
    return f'{note}<div class="grid g3">{"".join(columns)}</div>'


# --- 5. ranking ----------------------------------------------------------------------------------


def _ranking(report: Report, selected: str) -> str:
    top = list(report.top)
    shown = {r.region_id for r in (*top, *report.zero)}
    extra = [r for r in report.ranking if r.region_id == selected and r.region_id not in shown]
    chart = (
        _ranking_chart([*top, *([None] if top and extra else []), *extra], selected, "Регионы с лучшими показателями")
        if top or extra
        else '<p class="sub">Нет регионов с показателем выше 0%.</p>'
    )
    zero = (
        "".join(
            f'<li class="sel">{escape(r.name)} ◀</li>' if r.region_id == selected else f"<li>{escape(r.name)}</li>"
            for r in report.zero
        )
        or '<li class="empty">нет</li>'
    )
    return (
        f'<p class="sub">{escape(labels.INDICATOR_TITLES["b"])}; цель ≥ {TARGETS_PCT["b"]}%. '
        "Выбранный субъект выделен.</p>"
        f"<h3>Регионы с лучшими показателями</h3>{chart}"
        f"<h3>Регионы с низкими показателями (0%): {len(report.zero)}</h3>"
        f'<div class="list"><ul class="cols">{zero}</ul></div>'
    )


def _ranking_chart(regions: Sequence[RankedRegion | None], selected: str | None, title: str) -> str:
    """Bars of b per region, in the given order; None draws a "…" row (a gap in the ranks)."""
    label_w, x0, bar_w, row_h, bar_h, top = 270, 280, 600, 26, 18, 22
    bottom = top + row_h * len(regions)
    width, height = x0 + bar_w + 70, bottom + 20
    parts = [_axis(x0, bar_w, top, bottom, (0, 25, 50, 75, 100))]
    target_x = x0 + TARGETS_PCT["b"] / 100 * bar_w
    parts.append(  # under the bars and their values
        f'<line x1="{target_x:.1f}" x2="{target_x:.1f}" y1="{top - 4}" y2="{bottom + 4}" stroke="#1d2430" '
        'stroke-width="2"/>'
        f'<text class="axis" x="{target_x:.1f}" y="{bottom + 16}" text-anchor="middle">цель {TARGETS_PCT["b"]}%</text>'
    )
    for i, r in enumerate(regions):
        y = top + i * row_h + (row_h - bar_h) // 2
        if r is None:
            parts.append(f'<text x="{label_w}" y="{y + bar_h - 4}" text-anchor="end">…</text>')
            continue
        w = r.b_share * bar_w
        mark = r.region_id == selected
        colour = SELECTED_COLOUR if mark else OTHER_COLOUR
        parts.append(
            f"{_name_text(f'{r.rank}. {r.name}', label_w, y + bar_h - 4, bold=mark)}"
            f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
            f"<title>{escape(r.name)}: {labels.pct(r.b_share)} ({r.b_teachers} из {r.teachers_registered})</title>"
            f"</rect>"
            f'<text class="val" x="{x0 + w + 6:.1f}" y="{y + bar_h - 4}">{labels.pct(r.b_share)}</text>'
        )
    return _svg(width, height, parts, title)


def _federal(report: Report) -> str:
    rows = "".join(
        f"<li>{escape(r.region_id)} — {escape(r.name)}</li>"
        for r in sorted(report.ranking, key=lambda r: (name_key(r.name), r.region_id))
    )
    chart = _ranking_chart(report.ranking, None, "Субъекты РФ по показателю b") if report.ranking else ""
    return (
        f'<section id="ranking"><h2>Субъекты РФ по показателю b</h2>'
        f'<p class="sub">{escape(labels.INDICATOR_TITLES["b"])}; цель ≥ {TARGETS_PCT["b"]}%.</p>{chart}'
        f'<div class="important">Регионов: {len(report.regions)}. Страницы региона: '
        f"<code>sferum-kpi report --region ID --html FILE</code>.</div>"
        f'<div class="list"><ul class="cols">{rows}</ul></div></section>'
    )


# --- SVG helpers ---------------------------------------------------------------------------------


def _svg(width: int, height: int, parts: Sequence[str], title: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'preserveAspectRatio="xMinYMin meet" style="max-width:{width}px">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def _axis(x0: int, bar_w: int, top: int, bottom: int, ticks: Sequence[int]) -> str:
    out = []
    for tick in ticks:
        x = x0 + tick / 100 * bar_w
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{bottom}" stroke="#dde3ea" stroke-width="1"/>'
            f'<text class="axis" x="{x:.1f}" y="{top - 8}" text-anchor="middle">{tick}%</text>'
        )
    return "".join(out)


def _name_text(name: str, x: int, y: int, *, bold: bool = False) -> str:
    shown = name if len(name) <= CHART_NAME_CHARS else name[: CHART_NAME_CHARS - 1] + "…"
    weight = ' font-weight="700"' if bold else ""
    return f'<text x="{x}" y="{y}" text-anchor="end"{weight}><title>{escape(name)}</title>{escape(shown)}</text>'
