"""The teachers' status (``kpi_teacher_status``, ``046_kpi_changes.sql``): per teacher, the weeks
that decide its cumulative indicators, so that the incremental refresh reads a teacher's rows of
the weeks it computes only. A function of ``teacher_week`` and ``registrations``: ``refresh_kpi``
computes it for every teacher, the incremental refresh for the teachers it was given.

Both run in a *work partition*: one refresh's rows in ``kpi_refresh_changes`` and
``kpi_refresh_units``, under an id of its own (workers may share a server), dropped at its end.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

from sinks.clickhouse import ClickHouseSink

WORK_TABLES = ("kpi_refresh_changes", "kpi_refresh_units")
#: What the incremental refresh keeps per registry snapshot (partitioned by it), with its columns.
SNAPSHOT_STATE = {
    "kpi_area_multi_teachers": "unit_kind, unit_id, teacher_id, extra",
    "kpi_student_status": "school_id, student_id, reg_week, by_parent, updated_at",
    "kpi_student_school": "student_id, school_id",
}
SNAPSHOT_STATE_TABLES = tuple(SNAPSHOT_STATE)
#: Those of them that copy a registry table, a row per row: a snapshot's registry never changes, so
#: they are built again only when their row count is not the registry table's (never built, or cut
#: short).
REGISTRY_COPIES = {"kpi_student_school": "registry_students"}
_STATUS_COLUMNS = "teacher_id, reg_week, chat_week, message1_week, message2_week, message3_week"


@contextlib.contextmanager
def work_partition(sink: ClickHouseSink) -> Iterator[int]:
    """A fresh refresh id; its rows in the work tables are dropped when the block ends."""
    refresh = secrets.randbits(63)
    try:
        yield refresh
    finally:
        for table in WORK_TABLES:
            with contextlib.suppress(Exception):  # the store may be down: the tables' TTL removes them then
                sink.command(f"ALTER TABLE {sink.database}.{table} DROP PARTITION {int(refresh):d}")


def update_teacher_status(sink: ClickHouseSink, refresh: int) -> None:
    """Bring up to date the status of the teachers among ``refresh``'s changes (role ``teacher``)."""
    db = sink.database
    sink.command(
        f"INSERT INTO {db}.kpi_teacher_status ({_STATUS_COLUMNS}, updated_at) "
        f"SELECT {_STATUS_COLUMNS}, now64(3) FROM {db}.kpi_teacher_status_changed(refresh = {{refresh:UInt64}})",
        parameters={"refresh": refresh},
    )


def rebuild_teacher_status(sink: ClickHouseSink) -> None:
    """Compute the status of every teacher with a row or a registration, from all of them."""
    db = sink.database
    with work_partition(sink) as refresh:
        sink.command(
            f"INSERT INTO {db}.kpi_refresh_changes (refresh, role, user_id, from_week) "
            f"SELECT {{refresh:UInt64}}, 'teacher', teacher_id, toDate(0) FROM ("
            f"SELECT teacher_id FROM {db}.teacher_week "
            f"UNION DISTINCT SELECT user_id FROM {db}.registrations WHERE role = 'teacher')",
            parameters={"refresh": refresh},
        )
        update_teacher_status(sink, refresh)


def update_student_status(sink: ClickHouseSink, refresh: int, snapshot: int) -> None:
    """Bring up to date the status of the students among ``refresh``'s changes (role ``student``)."""
    db = sink.database
    sink.command(
        f"INSERT INTO {db}.kpi_student_status (snapshot, school_id, student_id, reg_week, by_parent, updated_at) "
        f"SELECT {{snapshot:UInt32}}, school_id, student_id, reg_week, by_parent, now64(3) "
        f"FROM {db}.kpi_student_status_changed(snapshot = {{snapshot:UInt32}}, refresh = {{refresh:UInt64}})",
        parameters={"refresh": refresh, "snapshot": snapshot},
    )


def rebuild_snapshot_state(sink: ClickHouseSink, snapshot: int) -> None:
    """Compute anew what the incremental refresh keeps per registry snapshot: the teachers of
    several schools of an area (``kpi_area_multi_teachers``, a function of the registry), every
    registered student's status (``kpi_student_status``), and each student's school by student
    (``kpi_student_school``, only when not complete)."""
    db = sink.database
    for table, columns in SNAPSHOT_STATE.items():
        if table in REGISTRY_COPIES and _same_count(sink, table, REGISTRY_COPIES[table], snapshot):
            continue
        sink.drop_partition(table, snapshot)
        sink.command(
            f"INSERT INTO {db}.{table} (snapshot, {columns}) "
            f"SELECT {int(snapshot):d}, {columns} FROM {db}.{table}_compute(snapshot = {int(snapshot):d})"
        )


def _same_count(sink: ClickHouseSink, table: str, source: str, snapshot: int) -> bool:
    db = sink.database
    counts = f"(SELECT count() FROM {db}.{{}} WHERE snapshot = {int(snapshot):d})"
    return bool(sink.query_rows(f"SELECT {counts.format(table)} = {counts.format(source)}")[0][0])


def teacher_status_missing(sink: ClickHouseSink) -> bool:
    """True when teachers have rows or registrations but no status was computed (a store made before
    the status existed, not refreshed in full since)."""
    db = sink.database
    rows = sink.query_rows(
        f"SELECT (SELECT count() FROM {db}.kpi_teacher_status) = 0 AND ("
        f"(SELECT count() FROM {db}.teacher_week) > 0 "
        f"OR (SELECT count() FROM {db}.registrations WHERE role = 'teacher') > 0)"
    )
    return bool(rows[0][0])
