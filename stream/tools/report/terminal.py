"""The report on a terminal (rich), in the order of the regional centre's slides: the four
indicators, the shares of municipalities, schools, teachers and students, the region's indicators
week by week, the level lists per municipality (each with its denominator), the municipality
lists, and the regions ranked by b.

Names come from the registry and are shown as plain ``Text``, never parsed as rich markup.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from sinks.indicators import TARGETS_PCT
from stream.tools.report import labels
from stream.tools.report.data import LEVEL_METRICS, Change, RankedRegion, RegionReport, Report, Tally
from stream.tools.report.trends import SERIES

LEVEL_STYLES = {"low": "red", "sufficient": "yellow", "high": "green"}
_DIRECTION_STYLES = {"growth": "green", "fall": "red", "none": "dim"}


def render(report: Report, console: Console) -> None:
    """Print the whole report."""
    region = report.region
    title = f"«Сферум»: {region.name}" if region else "«Сферум»: субъекты РФ"
    console.print(Text(f"{title}, {labels.week_title(report.week)}", style="bold"))
    if region is None:
        console.print(Text(f"\n{labels.INDICATOR_TITLES['b']} (b), цель ≥ {TARGETS_PCT['b']}%", style="bold"))
        console.print(_ranking_all(report))
        console.print(Text(f"Регионов: {len(report.regions)}. Для страниц региона укажите --region ID (столбец ID)."))
        return
    for heading, body in (
        ("1. Показатели субъекта РФ", _indicators(region)),
        ("2. Муниципальные образования, школы, педагоги, ученики в ИКОП «Сферум»", _tallies(region)),
        ("3. Показатели по неделям", _trends(region)),
        ("4. Уровни по муниципальным образованиям", _levels(region, report.levels)),
        ("5. Списки муниципальных образований", _lists(region)),
        ("6. Субъекты РФ по показателю b", _ranking(report, region.region_id)),
    ):
        console.print()
        console.print(Rule(Text(heading, style="bold"), align="left"))
        console.print(body)


def _change(change: Change) -> Text:
    if change.prev_share is None or change.delta_pp is None:
        return Text("нет данных\nза прошлую неделю", style="dim")
    word = labels.DIRECTIONS.get(change.direction, change.direction)
    return Text(f"{word}\n{labels.pp(change.delta_pp)}", style=_DIRECTION_STYLES.get(change.direction, ""))


def _indicators(region: RegionReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
    table.add_column("Показатель", ratio=1)
    table.add_column("Значение", justify="right", no_wrap=True)
    table.add_column("Цель", no_wrap=True)
    table.add_column("Динамика за неделю", no_wrap=True)
    for ind in region.indicators:
        name = Text(f"{ind.key}) {labels.INDICATOR_TITLES[ind.key]}")
        name.append(f"\n{labels.INDICATOR_NOTES[ind.key]}", style="dim")
        value = Text(labels.pct(ind.share), style="bold")
        value.append(f"\n{ind.teachers} из {ind.teachers_registered}", style="dim")
        target = Text(f"≥ {ind.target_pct}%\n")
        target.append("✓ достигнута" if ind.met else "✗ не достигнута", style="green" if ind.met else "red")
        table.add_row(name, value, target, _change(ind.change))
        table.add_section()
    return table


def _tallies(region: RegionReport) -> Group:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("")
    table.add_column("Всего", justify="right")
    table.add_column("В ИКОП «Сферум»", justify="right")
    table.add_column("Активных", justify="right")

    def cell(count: int | None, share: float | None) -> str:
        return "—" if count is None or share is None else f"{count} ({labels.pct(share)})"

    rows: list[tuple[str, Tally]] = [
        ("Муниципальные образования", region.municipalities),
        ("Школы", region.schools),
        ("Педагоги", region.teachers),
        ("Ученики", region.students),
    ]
    for name, tally in rows:
        table.add_row(name, str(tally.total), cell(tally.registered, tally.registered_share),
                      cell(tally.active, tally.active_share))  # fmt: skip
    notes = Text(style="dim")
    notes.append(f"Зарегистрированы родителями (ученики младше 14 лет): {region.students_registered_by_parent}.\n")
    notes.append(
        f"Сотрудники органов управления образованием МО в ИКОП «Сферум»: {region.staff_registered} "
        f"из {region.staff_total} по реестру.\n"
    )
    notes.append("Доля в ИКОП «Сферум» — от всех по реестру; доля активных — от зарегистрированных.\n")
    notes.append(f"{labels.ACTIVE_MUNICIPALITY}.\n{labels.ACTIVE_SCHOOL}.\n{labels.ACTIVE_TEACHER}.")
    return Group(table, notes)


def _trends(region: RegionReport) -> Table:
    """The region's a–d and active share in every week up to the report's (the HTML page draws them,
    with each municipality's)."""
    trends = region.trends
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Неделя")
    for key in SERIES:
        target = f" (цель {TARGETS_PCT[key]}%)" if key in TARGETS_PCT else ""
        table.add_column(f"{labels.TREND_SHORT[key]}{target}", justify="right")
    for i, week in enumerate(trends.weeks):
        table.add_row(f"{week:%d.%m.%Y}", *(labels.pct(trends.region.values[key][i]) for key in SERIES))
    return table


def _levels(region: RegionReport, levels: tuple[float, float]) -> Group:
    parts: list[RenderableType] = []
    for metric in LEVEL_METRICS:
        title, what = labels.LEVEL_SECTIONS[metric]
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_header=False)
        table.add_column("Муниципальное образование", min_width=40)
        table.add_column("Доля", justify="right", no_wrap=True)
        items = region.levels.get(metric, ())
        for level in labels.LEVEL_ORDER:
            members = [m for m in items if m.level == level]
            table.add_row(Text(f"{labels.level_title(level, levels)}: {len(members)}", style=LEVEL_STYLES[level]))
            for m in members:
                table.add_row(Text(f"  {m.name}"), Text(labels.pct(m.share), style=LEVEL_STYLES[level]))
        parts += [Text(f"\n{title}", style="bold"), Text(f"Доля {what}", style="dim"), table]
    return Group(*parts)


def _lists(region: RegionReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
    columns = list(labels.MUNICIPALITY_LISTS.items())
    for key, heading in columns:
        table.add_column(f"{heading}: {len(region.lists.get(key, ()))}", ratio=1)
    names = [region.lists.get(key, ()) for key, _ in columns]
    for i in range(max((len(n) for n in names), default=0)):
        table.add_row(*(Text(n[i]) if i < len(n) else Text("") for n in names))
    return table


def _ranked_row(table: Table, region: RankedRegion, selected: str | None, *, with_id: bool = False) -> None:
    mark = region.region_id == selected
    style = "bold reverse" if mark else ""
    cells = [str(region.rank)]
    if with_id:
        cells.append(region.region_id)
    cells += [region.name + (" ◀" if mark else ""), labels.pct(region.b_share)]
    table.add_row(*(Text(c) for c in cells), style=style)


def _ranking(report: Report, selected: str) -> Group:
    top, zero = report.top, report.zero
    best = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    best.add_column("Место", justify="right")
    best.add_column("Субъект РФ", min_width=40)
    best.add_column("b", justify="right")
    for region in top:
        _ranked_row(best, region, selected)
    if not top:
        best.add_row("", Text("нет регионов с показателем выше 0%", style="dim"), "")
    shown = {r.region_id for r in (*top, *zero)}
    for region in report.ranking:
        if region.region_id == selected and region.region_id not in shown:
            best.add_row("…", "", "")
            _ranked_row(best, region, selected)
    low = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_header=False)
    low.add_column("Субъект РФ", min_width=40)
    for region in zero:
        mark = region.region_id == selected
        low.add_row(Text(region.name + (" ◀" if mark else "")), style="bold reverse" if mark else "")
    if not zero:
        low.add_row(Text("нет", style="dim"))
    return Group(
        Text(f"{labels.INDICATOR_TITLES['b']}, цель ≥ {TARGETS_PCT['b']}%", style="dim"),
        Text("\nРегионы с лучшими показателями", style="bold"),
        best,
        Text("\nРегионы с низкими показателями (0%)", style="bold"),
        low,
    )


def _ranking_all(report: Report) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Место", justify="right")
    table.add_column("ID")
    table.add_column("Субъект РФ")
    table.add_column("b", justify="right")
    table.add_column("Учителей", justify="right")
    for region in report.ranking:
        table.add_row(
            str(region.rank),
            Text(region.region_id),
            Text(region.name),
            labels.pct(region.b_share),
            f"{region.b_teachers} из {region.teachers_registered}",
        )
    return table
