"""Refresh the stored indicators (``kpi_unit_week_data``) from ``kpi_unit_week_compute``.

Cumulative indicators of a week depend on every earlier week, so a change in week W (a flushed
row, a late event, a registration) is refreshed from W to the newest week. A registry load
computes every week for its new snapshot before the snapshot becomes current. This is the full
refresh, of every unit; ``sinks.kpi_changes`` refreshes only the units of a set of changed users.
"""

from __future__ import annotations

from datetime import date

from sinks.clickhouse import ClickHouseSink, current_snapshot_sql
from sinks.kpi_status import SNAPSHOT_STATE_TABLES, rebuild_snapshot_state, rebuild_teacher_status

EVERY_WEEK = date(1970, 1, 1)

#: The columns of kpi_unit_week, in order (kpi_unit_week_data less snapshot and computed_at).
KPI_COLUMNS = (
    "week_start",
    "unit_kind",
    "unit_id",
    "unit_name",
    "region_id",
    "municipality_id",
    "teachers_total",
    "teachers_registered",
    "a_teachers",
    "b_teachers",
    "c_teachers",
    "d_teachers",
    "active_teachers",
    "teachers_registered_share",
    "a_share",
    "b_share",
    "c_share",
    "d_share",
    "active_share",
    "active_share_of_total",
    "schools_total",
    "schools_registered",
    "schools_active",
    "schools_registered_share",
    "schools_active_share",
    "municipalities_total",
    "municipalities_registered",
    "municipalities_active",
    "municipalities_registered_share",
    "municipalities_active_share",
    "municipalities_no_staff_registered",
    "municipality_staff_total",
    "municipality_staff_registered",
    "students_total",
    "students_registered",
    "students_registered_by_parent",
    "students_registered_share",
    "unit_registered",
    "unit_active",
    "municipality_list",
)


def current_snapshot(sink: ClickHouseSink) -> int | None:
    rows = sink.query_rows(f"SELECT {current_snapshot_sql(sink.database)}")
    return (int(rows[0][0]) if rows else 0) or None  # snapshots are numbered from 1


def refresh_kpi(sink: ClickHouseSink, *, snapshot: int | None = None, from_week: date = EVERY_WEEK) -> int:
    """Recompute the stored indicators of ``snapshot`` (default: the current one) for the weeks
    from ``from_week`` on, every unit, and the status of every teacher (what the incremental
    refresh starts from). Returns the rows written (0 when no registry is loaded yet)."""
    if snapshot is None:
        snapshot = current_snapshot(sink)
        if snapshot is None:
            return 0
    rebuild_teacher_status(sink)
    rebuild_snapshot_state(sink, snapshot)
    db, columns = sink.database, ", ".join(KPI_COLUMNS)
    summary = sink.command(
        f"INSERT INTO {db}.kpi_unit_week_data (snapshot, computed_at, {columns}) "
        f"SELECT {int(snapshot):d}, now64(3), {columns} "
        f"FROM {db}.kpi_unit_week_compute(snapshot = {int(snapshot):d}, from_week = '{from_week.isoformat()}')"
    )
    written = getattr(summary, "written_rows", None)
    return int(written) if written is not None else 0


def drop_snapshot_rows(sink: ClickHouseSink, snapshot: int) -> None:
    for table in ("kpi_unit_week_data", *SNAPSHOT_STATE_TABLES):
        sink.drop_partition(table, snapshot)
