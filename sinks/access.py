"""Least privilege in ClickHouse: the roles of the writer (the worker), of readers (Grafana, the
federal operator, analysts) and of a region's accounts, and the row policies that show a regional
account only its region's rows of every table (and so of every view, which read the tables with
the reader's rights: ClickHouse views are SQL SECURITY INVOKER unless made otherwise).

Printed by ``sferum-kpi access-sql`` (docs/security.md says how to apply it). ClickHouse row
policies are permissive: once a table has one, an account none of them names sees no row of it.
So every table gets ``sferum_all_rows`` for the writer and the all-regions readers, and each
region ``sferum_region_<id>`` for the accounts of that region. Statements are idempotent (IF NOT
EXISTS); a region's statements can be added at any time.

``region_predicates`` is the one source of each table's condition: the DDL, the embedded
engine's users file of the tests and the documentation use it.

On a ClickHouse cluster (``cluster``, docs/cluster.md) every statement runs ``ON CLUSTER``, and
the local table of each sharded table (which the shards read for a Distributed table) has the
same policies as the table.
"""

from __future__ import annotations

import re
from typing import Final

from sinks.cluster import check_cluster, local_table

WRITER_ROLE: Final = "sferum_writer"
READER_ROLE: Final = "sferum_reader"
REGIONAL_ROLE: Final = "sferum_regional_reader"
ALL_ROWS_POLICY: Final = "sferum_all_rows"
#: Region ids and account names that may be written into the DDL (no quoting games).
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_DB = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class AccessError(ValueError):
    """A region id, database or account name that cannot go into the DDL."""


def _literal(value: str) -> str:
    if not _NAME.match(value):
        raise AccessError(f"{value!r} is not a plain id (letters, digits, _ . -, at most 64)")
    return f"'{value}'"


def region_role(region_id: str) -> str:
    _literal(region_id)
    return "sferum_region_" + re.sub(r"[^A-Za-z0-9_]", "_", region_id)


def region_predicates(database: str, region_id: str) -> dict[str, str]:
    """Table -> the condition that keeps exactly the rows of one region. Rows that belong to no
    region (a teacher missing from the registry, a parent) are in no region's rows."""
    if not _DB.match(database):
        raise AccessError(f"bad database name {database!r}")
    db, region = database, _literal(region_id)
    municipalities = f"SELECT municipality_id FROM {db}.registry_municipalities WHERE region_id = {region}"
    schools = f"SELECT school_id FROM {db}.registry_schools WHERE municipality_id IN ({municipalities})"
    teachers = f"SELECT teacher_id FROM {db}.registry_teachers WHERE school_id IN ({schools})"
    students = f"SELECT student_id FROM {db}.registry_students WHERE school_id IN ({schools})"
    staff = f"SELECT staff_id FROM {db}.registry_staff WHERE municipality_id IN ({municipalities})"
    return {
        "registry_regions": f"region_id = {region}",
        "registry_municipalities": f"region_id = {region}",
        "registry_schools": f"municipality_id IN ({municipalities})",
        "registry_teachers": f"school_id IN ({schools})",
        "registry_students": f"school_id IN ({schools})",
        "registry_staff": f"municipality_id IN ({municipalities})",
        # which snapshot is current: the views need it; it holds file names and row counts only
        "registry_snapshots": "1",
        "teacher_week": f"teacher_id IN ({teachers})",
        # a municipality acts through the staff of its education authority (registry_staff)
        "staff_week": f"user_id IN ({staff})",
        "registrations": (
            f"(role = 'teacher' AND user_id IN ({teachers})) OR (role = 'student' AND user_id IN ({students})) "
            f"OR (role = 'school' AND user_id IN ({schools})) "
            f"OR (role = 'municipality' AND user_id IN ({municipalities})) "
            f"OR (role = 'staff' AND user_id IN ({staff}))"
        ),
        "kpi_unit_week_data": f"region_id = {region}",
        # the incremental refresh's state: per teacher, and per area of the registry
        "kpi_teacher_status": f"teacher_id IN ({teachers})",
        "kpi_student_status": f"school_id IN ({schools})",
        "kpi_student_school": f"school_id IN ({schools})",
        "kpi_area_multi_teachers": (
            f"(unit_kind = 'region' AND unit_id = {region}) "
            f"OR (unit_kind = 'municipality' AND unit_id IN ({municipalities}))"
        ),
        # one refresh's work rows, dropped when it ends: no regional reader needs them
        "kpi_refresh_changes": "0",
        "kpi_refresh_units": "0",
    }


def tables(database: str) -> list[str]:
    """The tables every policy covers (a test checks it is every table of the store)."""
    return list(region_predicates(database, "r"))


def _on_cluster(cluster: str) -> str:
    try:
        return f" ON CLUSTER {check_cluster(cluster)}" if cluster else ""
    except ValueError as exc:
        raise AccessError(str(exc)) from None


def _with_local(table: str, cluster: str) -> list[str]:
    """The table, and on a cluster also its local table if it has one."""
    return [table] if not cluster or local_table(table) == table else [table, local_table(table)]


def base_statements(database: str, cluster: str = "") -> list[str]:
    """The roles, their grants and the all-rows policy: once per ClickHouse (or cluster)."""
    db, c = database, _on_cluster(cluster)
    on = ", ".join(f"{db}.{name}" for t in tables(db) for name in _with_local(t, cluster))
    return [
        f"CREATE ROLE IF NOT EXISTS {WRITER_ROLE}{c}",
        f"CREATE ROLE IF NOT EXISTS {READER_ROLE}{c}",
        f"CREATE ROLE IF NOT EXISTS {REGIONAL_ROLE}{c}",
        # the worker and load-registry: DDL on start, inserts, partition drops; this database only
        f"GRANT{c} ALL ON {db}.* TO {WRITER_ROLE}",
        f"GRANT{c} SELECT ON {db}.* TO {READER_ROLE}",
        f"GRANT{c} SELECT ON {db}.* TO {REGIONAL_ROLE}",
        f"CREATE ROW POLICY IF NOT EXISTS {ALL_ROWS_POLICY}{c} ON {on} AS PERMISSIVE FOR SELECT USING 1 "
        f"TO {WRITER_ROLE}, {READER_ROLE}",
    ]


def region_statements(database: str, region_id: str, accounts: list[str] | None = None, cluster: str = "") -> list[str]:
    """A region's role and row policies; with ``accounts``, the role granted to them (they must
    exist: ``CREATE USER`` holds a password, which this tool never writes)."""
    role, c = region_role(region_id), _on_cluster(cluster)
    out = [f"CREATE ROLE IF NOT EXISTS {role}{c}", f"GRANT{c} {REGIONAL_ROLE} TO {role}"]
    for table, predicate in region_predicates(database, region_id).items():
        for name in _with_local(table, cluster):
            out.append(
                f"CREATE ROW POLICY IF NOT EXISTS {role}{c} ON {database}.{name} AS PERMISSIVE FOR SELECT "
                f"USING {predicate} TO {role}"
            )
    for account in accounts or []:
        _literal(account)
        default_role = f"ALTER USER {account}{c} DEFAULT ROLE ALL" if cluster else f"SET DEFAULT ROLE ALL TO {account}"
        out += [f"GRANT{c} {role} TO {account}", default_role]
    return out


def users_xml_filters(database: str, region_id: str) -> str:
    """The same row filters in the XML of a users file (``<databases>`` of a user): the form the
    embedded engine accepts, since it has no writable storage for SQL-defined access entities."""
    from xml.sax.saxutils import escape

    rows = "".join(
        f"<{table}><filter>{escape(predicate)}</filter></{table}>"
        for table, predicate in region_predicates(database, region_id).items()
    )
    return f"<databases><{database}>{rows}</{database}></databases>"
