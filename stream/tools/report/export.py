"""The report as JSON, for other systems and scripts: every figure and list the terminal and the
page show, under the keys documented in ``docs/report.md``. Shares are fractions (0..1, not
rounded); changes are in percentage points; weeks are ISO dates of their Monday.

    data = report_json(report)          # bytes, UTF-8
    orjson.loads(data)["region"]["indicators"]["b"]["share"]
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson

from sinks.indicators import TARGETS_PCT
from stream.tools.report import labels
from stream.tools.report.data import (
    LEVEL_METRICS,
    MUNICIPALITY_LISTS,
    Change,
    RankedRegion,
    RegionReport,
    Report,
    Tally,
)
from stream.tools.report.regions import subject_of
from stream.tools.report.trends import SERIES

#: The layout of the document; raised when a key changes meaning or goes away.
FORMAT_VERSION = 1
#: kpi_levels metric -> key of ``level_lists``
LEVEL_LIST_KEYS = {
    "schools_active_share": "schools",
    "active_share_of_total": "teachers",
    "students_registered_share": "students",
}


def report_json(report: Report) -> bytes:
    return orjson.dumps(report_dict(report), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def report_dict(report: Report) -> dict[str, Any]:
    week = report.week
    return {
        "format": "sferum-kpi report",
        "version": FORMAT_VERSION,
        "week": {
            "start": week.isoformat(),
            "end": (week + timedelta(days=6)).isoformat(),
            "iso_week": week.isocalendar().week,
            "iso_year": week.isocalendar().year,
        },
        "weeks_with_data": [w.isoformat() for w in report.weeks],
        "levels": {"low": report.levels[0], "high": report.levels[1]},
        "targets": {key: pct / 100 for key, pct in TARGETS_PCT.items()},
        "region": _region(report.region) if report.region else None,
        "ranking": [_ranked(r) for r in report.ranking],
        "top": [_ranked(r) for r in report.top],
        "zero": [_ranked(r) for r in report.zero],
    }


def _change(change: Change) -> dict[str, Any]:
    return {"prev_share": change.prev_share, "delta_pp": change.delta_pp, "direction": change.direction}


def _tally(t: Tally) -> dict[str, Any]:
    out: dict[str, Any] = {
        "total": t.total,
        "registered": t.registered,
        "registered_share": t.registered_share,
        "registered_change": _change(t.registered_change),
    }
    if t.active is not None:
        out |= {"active": t.active, "active_share": t.active_share, "active_change": _change(t.active_change)}
    return out


def _code(region_id: str, name: str) -> str | None:
    subject = subject_of(region_id, name)
    return subject.code if subject else None


def _ranked(r: RankedRegion) -> dict[str, Any]:
    return {
        "rank": r.rank,
        "region_id": r.region_id,
        "name": r.name,
        "code": _code(r.region_id, r.name),
        "b_teachers": r.b_teachers,
        "teachers_registered": r.teachers_registered,
        "b_share": r.b_share,
        "band": r.band,
    }


def _region(region: RegionReport) -> dict[str, Any]:
    municipalities = _tally(region.municipalities) | {
        "no_staff_registered": len(region.lists.get("no_staff_registered", ())),
        "staff_total": region.staff_total,
        "staff_registered": region.staff_registered,
    }
    students = _tally(region.students) | {"registered_by_parent": region.students_registered_by_parent}
    level_lists = {}
    for metric, (numerator, denominator) in LEVEL_METRICS.items():
        items = region.levels.get(metric, ())
        title, what = labels.LEVEL_SECTIONS[metric]
        level_lists[LEVEL_LIST_KEYS[metric]] = {
            "metric": metric,
            "title": title,
            "share_of": what,
            "numerator": numerator,
            "denominator": denominator,
        } | {
            level: [
                {"municipality_id": m.municipality_id, "name": m.name, "share": m.share, "count": m.count, "of": m.of}
                for m in items
                if m.level == level
            ]
            for level in labels.LEVEL_ORDER
        }
    trends = region.trends
    return {
        "region_id": region.region_id,
        "name": region.name,
        "code": _code(region.region_id, region.name),
        "indicators": {
            ind.key: {
                "title": labels.INDICATOR_TITLES[ind.key],
                "teachers": ind.teachers,
                "teachers_registered": ind.teachers_registered,
                "share": ind.share,
                "target": ind.target,
                "met": ind.met,
                "change": _change(ind.change),
            }
            for ind in region.indicators
        },
        "municipalities": municipalities,
        "schools": _tally(region.schools),
        "teachers": _tally(region.teachers),
        "students": students,
        "level_lists": level_lists,
        "municipality_lists": {name: list(region.lists.get(name, ())) for name in MUNICIPALITY_LISTS},
        "trends": {
            "weeks": [w.isoformat() for w in trends.weeks],
            "series": list(SERIES),
            "region": {key: list(trends.region.values[key]) for key in SERIES},
            "municipalities": [
                {"municipality_id": t.unit_id, "name": t.name} | {key: list(t.values[key]) for key in SERIES}
                for t in trends.municipalities
            ],
        },
    }
