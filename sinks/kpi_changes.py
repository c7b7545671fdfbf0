"""Refresh the stored indicators for a set of changed users only (``046_kpi_changes.sql``).

Which users changed, by role, and from which week is exactly what a flush wrote: ``teacher_week``
rows say which teacher changed in which week, ``staff_week`` rows which staff user, registrations
which teacher, staff user, student, school or municipality. A change in week W changes the rows of
W and of every later week (cumulative indicators), and only those of the units the user belongs
to; every other stored row is still what a full recompute would give. So::

    refresh_kpi_changes(sink, {("teacher", "t1"): date(2026, 11, 16), ("student", "u9"): date(2026, 11, 9)})

computes again the rows of the touched schools, municipalities and regions from those weeks on,
and leaves the rest. It needs every week of the data to be stored for the snapshot: a week that is
not (the data reached a new week, or an event came before the first week) is computed for every
unit by ``refresh_kpi`` first; the result is the same rows either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sinks.clickhouse import ClickHouseSink
from sinks.kpi import KPI_COLUMNS, current_snapshot, refresh_kpi
from sinks.kpi_status import teacher_status_missing, update_student_status, update_teacher_status, work_partition

#: (role, user_id) -> the earliest week of that user that changed (its Monday)
Changes = Mapping[tuple[str, str], date]

_WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ChangesRefreshed:
    """What a refresh did: ``rows`` written; ``full_from``: the week from which every unit was
    computed because the data had weeks not stored (None: only the touched units were)."""

    rows: int
    units: int = 0
    full_from: date | None = None


def week_span(sink: ClickHouseSink) -> tuple[date, date] | None:
    """(first week, newest week) of the data, the weeks ``kpi_unit_week`` has rows for; None if no data."""
    rows = sink.query_rows(f"SELECT first_week, last_week, rows FROM {sink.database}.kpi_week_span")
    if not rows or not rows[0][2]:
        return None
    return rows[0][0], rows[0][1]


def stored_weeks(sink: ClickHouseSink, snapshot: int) -> set[date]:
    rows = sink.query_rows(
        f"SELECT DISTINCT week_start FROM {sink.database}.kpi_unit_week_data WHERE snapshot = {{snapshot:UInt32}}",
        parameters={"snapshot": snapshot},
    )
    return {r[0] for r in rows}


def refresh_kpi_changes(sink: ClickHouseSink, changes: Changes, *, snapshot: int | None = None) -> ChangesRefreshed:
    """Refresh the stored indicators of ``snapshot`` (default: the current one) after ``changes``;
    the rows equal those of ``refresh_kpi`` from the earliest week changed."""
    if snapshot is None:
        snapshot = current_snapshot(sink)
        if snapshot is None:
            return ChangesRefreshed(0)
    span = week_span(sink)
    if span is None:
        return ChangesRefreshed(0)
    first, last = span
    if teacher_status_missing(sink):  # a store refreshed in full only before the status existed
        return ChangesRefreshed(refresh_kpi(sink, snapshot=snapshot, from_week=first), full_from=first)
    stored = stored_weeks(sink, snapshot)
    missing = next((w for w in _weeks(first, last) if w not in stored), None)
    # every unit is computed from ``missing`` on (when a week is not stored), only the touched ones before
    before = last + _WEEK if missing is None else missing
    written, units = 0, 0
    with work_partition(sink) as refresh:
        sink.insert(
            "kpi_refresh_changes",
            [(refresh, role, user, week) for (role, user), week in changes.items()],
            column_names=("refresh", "role", "user_id", "from_week"),
        )
        if missing is not None:
            # a new newest week, or a first week earlier than before: new rows for every unit
            written += refresh_kpi(sink, snapshot=snapshot, from_week=missing)  # every teacher's status too
        else:
            update_teacher_status(sink, refresh)
            update_student_status(sink, refresh, snapshot)
        if any(week < before for week in changes.values()):
            rows, units = _refresh_touched(sink, snapshot, refresh, first, last, before)
            written += rows
    return ChangesRefreshed(written, units, missing)


def _weeks(first: date, last: date) -> list[date]:
    return [first + _WEEK * i for i in range((last - first).days // 7 + 1)]


def _refresh_touched(
    sink: ClickHouseSink, snapshot: int, refresh: int, first: date, last: date, before: date
) -> tuple[int, int]:
    """Steps 3 to 5 for the changes of ``refresh`` of a week before ``before``."""
    db = sink.database
    params = {"snapshot": snapshot, "refresh": refresh, "first_week": first, "last_week": last, "before": before}
    view_args = "snapshot = {snapshot:UInt32}, refresh = {refresh:UInt64}"
    week_args = "first_week = {first_week:Date}, last_week = {last_week:Date}"
    columns = ", ".join(KPI_COLUMNS)
    sink.command(
        f"INSERT INTO {db}.kpi_refresh_units (refresh, unit_kind, unit_id, from_week, students_changed) "
        f"SELECT {{refresh:UInt64}}, unit_kind, unit_id, from_week, students_changed "
        f"FROM {db}.kpi_changed_units({view_args}, before = {{before:Date}})",
        parameters=params,
    )
    # the rows the views write: one per touched unit and week from its from_week to the newest
    units, rows = sink.query_rows(
        f"SELECT count(), sum(intDiv(dateDiff('day', from_week, {{last_week:Date}}), 7) + 1) "
        f"FROM {db}.kpi_refresh_units WHERE refresh = {{refresh:UInt64}}",
        parameters=params,
    )[0]
    if units:
        # the schools first: the areas' rows are sums of the stored school rows
        for view in ("kpi_unit_week_changed_schools", "kpi_unit_week_changed_areas"):
            sink.command(
                f"INSERT INTO {db}.kpi_unit_week_data (snapshot, computed_at, {columns}) "
                f"SELECT {{snapshot:UInt32}}, now64(3), {columns} FROM {db}.{view}({view_args}, {week_args})",
                parameters=params,
            )
    return int(rows or 0), int(units)
