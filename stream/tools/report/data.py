"""What the weekly report shows, read from the views of ``sinks/sql`` into plain dataclasses.

Every query binds its values server-side (``{week:Date}``, ``{region:String}``, and the database
as ``{db:Identifier}``), so nothing the user types becomes SQL text. Usage::

    sink = ClickHouseSink(**settings.sink_options)
    report = load_report(sink, week=date(2026, 9, 10), region="r1")
    report.region.indicators[0].share   # a, for the week of 2026-09-07
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sinks.indicators import TARGETS_PCT
from sinks.kpi import KPI_COLUMNS
from stream.core.week import monday_of
from stream.tools.report.trends import Trends, load_trends

#: The seed lists the best regions by b, this many.
TOP_REGIONS = 7
#: The slides' level lists per municipality, each with its own denominator: metric of kpi_levels
#: -> (numerator, denominator) columns of kpi_unit_week. Schools: active of registered schools;
#: teachers: active of all the registry's teachers (the slides' Орёл 28 %, while the region's
#: headline 35.1 % is of registered teachers); students: registered of all students.
LEVEL_METRICS = {
    "schools_active_share": ("schools_active", "schools_registered"),
    "active_share_of_total": ("active_teachers", "teachers_total"),
    "students_registered_share": ("students_registered", "students_total"),
}
#: The slides' municipality lists (kpi_municipality_lists), in their order.
MUNICIPALITY_LISTS = ("absent", "no_staff_registered", "active")


class Queryable(Protocol):
    def query_rows(self, sql: str, parameters: dict[str, Any] | None = None) -> Sequence[Sequence[Any]]: ...


class ReportArgumentError(ValueError):
    """A week or region the store has no data for; the CLI prints it as one line and exits 2."""


class NoDataError(RuntimeError):
    """The store has no indicators at all yet; the CLI prints it as one line and exits 1."""


@dataclass(frozen=True)
class Change:
    """Week-over-week change of a share (``kpi_dynamics``); ``prev_share`` is None in the first week."""

    prev_share: float | None = None
    delta_pp: float | None = None
    direction: str = "none"  # growth, fall or none


@dataclass(frozen=True)
class Indicator:
    key: str  # a, b, c or d
    teachers: int
    teachers_registered: int
    share: float
    target_pct: int
    change: Change

    @property
    def target(self) -> float:
        return self.target_pct / 100

    @property
    def met(self) -> bool:
        """Compared on the counts, so 7 of 20 meets 35 % whatever the float rounding."""
        return self.teachers_registered > 0 and self.teachers * 100 >= self.target_pct * self.teachers_registered


@dataclass(frozen=True)
class Tally:
    """ "Всего / в ИКОП «Сферум» / активных" of one kind of unit in the region."""

    total: int
    registered: int
    registered_share: float
    registered_change: Change
    active: int | None = None  # None for students
    active_share: float | None = None
    active_change: Change = Change()


@dataclass(frozen=True)
class MunicipalityShare:
    municipality_id: str
    name: str
    share: float
    level: str  # low, sufficient or high
    count: int  # numerator of the share
    of: int  # its denominator (LEVEL_METRICS)


@dataclass(frozen=True)
class RankedRegion:
    region_id: str
    name: str
    rank: int
    b_teachers: int
    teachers_registered: int
    b_share: float
    band: str  # of the federal map: 0-1%, 1-5% or 5-100%


@dataclass(frozen=True)
class RegionReport:
    region_id: str
    name: str
    indicators: tuple[Indicator, ...]
    municipalities: Tally
    schools: Tally
    teachers: Tally
    students: Tally
    students_registered_by_parent: int
    #: staff of the region's municipalities (staff.csv): in the registry, registered
    staff_total: int
    staff_registered: int
    #: metric (LEVEL_METRICS) -> municipalities, share descending
    levels: dict[str, tuple[MunicipalityShare, ...]]
    #: absent, no_staff_registered, active (MUNICIPALITY_LISTS) -> municipality names, alphabetical
    lists: dict[str, tuple[str, ...]]
    trends: Trends


@dataclass(frozen=True)
class Report:
    week: date
    weeks: tuple[date, ...]  # every week with data, ascending
    regions: tuple[tuple[str, str], ...]  # (region_id, name) of the registry, by name
    ranking: tuple[RankedRegion, ...]  # by b, best first
    region: RegionReport | None  # None: the federal view only (several regions, none chosen)
    levels: tuple[float, float]  # low / high thresholds, for the labels

    @property
    def top(self) -> tuple[RankedRegion, ...]:
        """The best regions by b (at most TOP_REGIONS), leaving out those at 0 %."""
        return tuple(r for r in self.ranking if r.b_teachers > 0)[:TOP_REGIONS]

    @property
    def zero(self) -> tuple[RankedRegion, ...]:
        """Every region where no registered teacher reached b this week (the seed's "0 %" list)."""
        return tuple(r for r in self.ranking if r.b_teachers == 0)


_CATALOG = """
SELECT week_start, unit_id, unit_name
FROM {db:Identifier}.kpi_unit_week
WHERE unit_kind = 'region'
"""
_VIEW_EXISTS = """
SELECT count() FROM system.tables WHERE database = {db:String} AND name = 'kpi_unit_week'
"""
_RANKING = """
SELECT region_id, region_name, toUInt32(rank), b_teachers, teachers_registered, b_share, band
FROM {db:Identifier}.kpi_region_ranking
WHERE week_start = {week:Date}
"""
_REGION = f"""
SELECT {", ".join(KPI_COLUMNS)}
FROM {{db:Identifier}}.kpi_unit_week
WHERE week_start = {{week:Date}} AND unit_kind = 'region' AND unit_id = {{region:String}}
"""
_DYNAMICS = """
SELECT metric, prev_share, delta_pp, direction
FROM {db:Identifier}.kpi_dynamics
WHERE week_start = {week:Date} AND unit_kind = 'region' AND unit_id = {region:String}
"""
_LEVELS = """
SELECT metric, unit_id, unit_name, share, level
FROM {db:Identifier}.kpi_levels
WHERE week_start = {week:Date} AND unit_kind = 'municipality' AND region_id = {region:String}
  AND metric IN {metrics:Array(String)}
"""
_LEVEL_COUNTS = f"""
SELECT unit_id, {", ".join(sorted({c for pair in LEVEL_METRICS.values() for c in pair}))}
FROM {{db:Identifier}}.kpi_unit_week
WHERE week_start = {{week:Date}} AND unit_kind = 'municipality' AND region_id = {{region:String}}
"""
_LISTS = """
SELECT list, municipality_name
FROM {db:Identifier}.kpi_municipality_lists
WHERE week_start = {week:Date} AND region_id = {region:String}
"""


def name_key(name: str) -> str:
    """Alphabetical order of Russian names, case-insensitive, with «ё» as «е» (ClickHouse sorts
    by bytes: every capital before every small letter)."""
    return name.casefold().replace("ё", "е")


def load_report(
    store: Queryable,
    *,
    database: str = "sferum",
    week: date | None = None,
    region: str | None = None,
    levels: tuple[float, float] = (0.30, 0.70),
) -> Report:
    """The report of ``week`` (any day of it; default the newest week with data) and ``region``
    (default the only region; with several and none given, the federal ranking only).

    Raises ReportArgumentError for a week without data or an unknown region, NoDataError when the
    store has no indicators yet.
    """
    db = {"db": database}
    if not store.query_rows(_VIEW_EXISTS, db)[0][0]:
        raise NoDataError(f"the store has no {database}.kpi_unit_week yet: replay events or run the worker first")
    catalog = store.query_rows(_CATALOG, db)
    weeks = tuple(sorted({row[0] for row in catalog}))
    regions = tuple(sorted({(row[1], row[2]) for row in catalog}, key=lambda r: (name_key(r[1]), r[0])))
    if not weeks:
        raise NoDataError("no indicators yet: the store needs events and a registry (sferum-kpi load-registry)")

    if week is None:
        chosen_week = weeks[-1]
    else:
        chosen_week = monday_of(week)
        if chosen_week not in weeks:
            raise ReportArgumentError(
                f"no data for the week of {chosen_week} (weeks with data: {weeks[0]} … {weeks[-1]})"
            )
    known = dict(regions)
    if region is not None and region not in known:
        shown = ", ".join(sorted(known)[:10]) + (", …" if len(known) > 10 else "")
        raise ReportArgumentError(f"unknown region {region!r} (regions: {shown})")
    if region is None and len(regions) == 1:
        region = regions[0][0]

    params = db | {"week": chosen_week}
    ranked = (RankedRegion(*row) for row in store.query_rows(_RANKING, params))
    ranking = tuple(sorted(ranked, key=lambda r: (r.rank, name_key(r.name), r.region_id)))
    region_report = _region_report(store, params | {"region": region}) if region is not None else None
    return Report(chosen_week, weeks, regions, ranking, region_report, levels)


def _region_report(store: Queryable, params: dict[str, Any]) -> RegionReport:
    rows = store.query_rows(_REGION, params)
    if not rows:  # the catalog listed it a moment ago; a registry load in between could drop it
        raise ReportArgumentError(f"no data for region {params['region']!r} in the week of {params['week']}")
    row = dict(zip(KPI_COLUMNS, rows[0], strict=True))
    changes = {r[0]: Change(r[1], r[2], r[3]) for r in store.query_rows(_DYNAMICS, params)}

    def count(column: str) -> int:
        return int(row[column] or 0)

    def share(column: str) -> float:
        return float(row[column] or 0.0)

    def change(metric: str) -> Change:
        return changes.get(metric, Change())

    def tally(kind: str) -> Tally:
        """Schools or municipalities: total, registered, active."""
        return Tally(
            total=count(f"{kind}_total"),
            registered=count(f"{kind}_registered"),
            registered_share=share(f"{kind}_registered_share"),
            registered_change=change(f"{kind}_registered_share"),
            active=count(f"{kind}_active"),
            active_share=share(f"{kind}_active_share"),
            active_change=change(f"{kind}_active_share"),
        )

    teachers_total, teachers_registered = count("teachers_total"), count("teachers_registered")
    indicators = tuple(
        Indicator(
            key=key,
            teachers=count(f"{key}_teachers"),
            teachers_registered=teachers_registered,
            share=share(f"{key}_share"),
            target_pct=TARGETS_PCT[key],
            change=change(f"{key}_share"),
        )
        for key in "abcd"
    )

    counted = sorted({c for pair in LEVEL_METRICS.values() for c in pair})
    counts = {row[0]: dict(zip(counted, row[1:], strict=True)) for row in store.query_rows(_LEVEL_COUNTS, params)}
    levels: dict[str, list[MunicipalityShare]] = {metric: [] for metric in LEVEL_METRICS}
    for metric, unit_id, unit_name, value, level in store.query_rows(
        _LEVELS, params | {"metrics": list(LEVEL_METRICS)}
    ):
        numerator, denominator = LEVEL_METRICS[metric]
        of = counts.get(unit_id, {})
        levels[metric].append(
            MunicipalityShare(
                unit_id, unit_name, float(value), level, int(of.get(numerator) or 0), int(of.get(denominator) or 0)
            )
        )
    lists: dict[str, list[str]] = {name: [] for name in MUNICIPALITY_LISTS}
    for list_name, municipality in store.query_rows(_LISTS, params):
        lists.setdefault(list_name, []).append(municipality)

    return RegionReport(
        region_id=params["region"],
        name=row["unit_name"],
        indicators=indicators,
        municipalities=tally("municipalities"),
        schools=tally("schools"),
        teachers=Tally(
            total=teachers_total,
            registered=teachers_registered,
            registered_share=share("teachers_registered_share"),
            registered_change=change("teachers_registered_share"),
            active=count("active_teachers"),
            active_share=share("active_share"),
            active_change=change("active_share"),
        ),
        students=Tally(
            total=count("students_total"),
            registered=count("students_registered"),
            registered_share=share("students_registered_share"),
            registered_change=change("students_registered_share"),
        ),
        students_registered_by_parent=count("students_registered_by_parent"),
        staff_total=count("municipality_staff_total"),
        staff_registered=count("municipality_staff_registered"),
        levels={
            metric: tuple(sorted(items, key=lambda m: (-m.share, name_key(m.name), m.municipality_id)))
            for metric, items in levels.items()
        },
        lists={name: tuple(sorted(items, key=name_key)) for name, items in lists.items()},
        trends=load_trends(store, params, name_key),
    )
