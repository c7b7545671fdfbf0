"""Load a registry directory into ClickHouse as a new snapshot, atomically.

Rows go in under a new snapshot number; cross-row checks run in SQL over that snapshot; only
when all pass is the snapshot recorded in ``registry_snapshots``, which is what the views read.
A failed load drops its rows and leaves the previous snapshot in force; a successful one drops
the older snapshots. Loading a registry never requires reprocessing events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from schemas.pseudonym import Pseudonym
from schemas.registry import FILES, PERSON_ID_COLUMNS, RegistryError, RegistryFile, read_rows
from sinks.clickhouse import ClickHouseSink, current_snapshot_sql
from sinks.kpi import drop_snapshot_rows, refresh_kpi

CHUNK_ROWS = 100_000


def load_registry(
    sink: ClickHouseSink,
    directory: Path,
    on_progress: Callable[[str, int], None] = lambda f, n: None,
    *,
    pseudonym: Pseudonym | None = None,
) -> tuple[int, dict[str, int]]:
    """Load every file; returns (snapshot, rows per file). Raises RegistryError, loading nothing.
    ``pseudonym``: applied to every person id (``PERSON_ID_COLUMNS``), as the worker applies it
    to the ids of events, so the joins match."""
    sink.ensure_schema()
    snapshot = _next_snapshot(sink)
    counts: dict[str, int] = {}
    try:
        for spec in FILES:
            counts[spec.name] = _insert_file(sink, directory, spec, snapshot, on_progress, pseudonym)
        for spec in FILES:
            _check(sink, spec, snapshot)
        refresh_kpi(sink, snapshot=snapshot)  # every week, before the snapshot becomes current
    except BaseException:
        _drop_snapshot(sink, snapshot)
        raise
    sink.insert(
        "registry_snapshots",
        [(snapshot, str(directory.resolve()), counts)],
        column_names=("snapshot", "source", "counts"),
    )
    for old in _snapshots_below(sink, snapshot):
        _drop_snapshot(sink, old)
    return snapshot, counts


def _next_snapshot(sink: ClickHouseSink) -> int:
    db = sink.database
    parts = [f"SELECT max(snapshot) AS s FROM {db}.registry_snapshots"]
    parts += [f"SELECT max(snapshot) AS s FROM {db}.{spec.table}" for spec in FILES]
    parts.append(f"SELECT max(snapshot) AS s FROM {db}.kpi_unit_week_data")
    return int(sink.query_rows(f"SELECT max(s) FROM ({' UNION ALL '.join(parts)})")[0][0] or 0) + 1


def _snapshots_below(sink: ClickHouseSink, snapshot: int) -> set[int]:
    db = sink.database
    found: set[int] = set()
    for spec in FILES:
        rows = sink.query_rows(f"SELECT DISTINCT snapshot FROM {db}.{spec.table} WHERE snapshot < {snapshot:d}")
        found.update(int(r[0]) for r in rows)
    return found


def _drop_snapshot(sink: ClickHouseSink, snapshot: int) -> None:
    for spec in FILES:
        sink.drop_partition(spec.table, snapshot)
    drop_snapshot_rows(sink, snapshot)


def _insert_file(
    sink: ClickHouseSink,
    directory: Path,
    spec: RegistryFile,
    snapshot: int,
    on_progress: Callable[[str, int], None],
    pseudonym: Pseudonym | None,
) -> int:
    rows = read_rows(directory, spec)
    people = [i + 1 for i, column in enumerate(spec.columns) if column in PERSON_ID_COLUMNS]  # after the line
    if pseudonym is not None and people:
        rows = _pseudonymised(rows, people, pseudonym)
    total = 0
    while chunk := list(islice(rows, CHUNK_ROWS)):
        sink.insert(
            spec.table,
            [(snapshot, *row) for row in chunk],
            column_names=("snapshot", "line", *spec.columns),
        )
        total += len(chunk)
        on_progress(spec.name, len(chunk))
    return total


def _pseudonymised(
    rows: Iterator[tuple[object, ...]], people: list[int], pseudonym: Pseudonym
) -> Iterator[tuple[object, ...]]:
    for row in rows:
        yield tuple(pseudonym(str(v)) if i in people else v for i, v in enumerate(row))


def _check(sink: ClickHouseSink, spec: RegistryFile, snapshot: int) -> None:
    db, table = sink.database, spec.table
    key = ", ".join(spec.key)
    dup = sink.query_rows(
        f"SELECT {key}, arraySort(groupArray(line)) AS lines FROM {db}.{table} WHERE snapshot = {snapshot:d} "
        f"GROUP BY {key} HAVING count() > 1 ORDER BY lines[2] LIMIT 1"
    )
    if dup:
        lines = dup[0][-1]
        what = ", ".join(f"{c} {v!r}" for c, v in zip(spec.key, dup[0][:-1], strict=True))
        raise RegistryError(f"{spec.name}:{lines[1]}: duplicate {what} (first on line {lines[0]})")
    if spec.parent is None:
        return
    column, parent_table, parent_column = spec.parent
    orphan = sink.query_rows(
        f"SELECT line, {column} FROM {db}.{table} WHERE snapshot = {snapshot:d} AND {column} NOT IN "
        f"(SELECT {parent_column} FROM {db}.{parent_table} WHERE snapshot = {snapshot:d}) ORDER BY line LIMIT 1"
    )
    if orphan:
        parent_file = next(f.name for f in FILES if f.table == parent_table)
        raise RegistryError(f"{spec.name}:{orphan[0][0]}: unknown {column} {orphan[0][1]!r} (not in {parent_file})")


def teacher_regions(sink: ClickHouseSink) -> dict[str, tuple[str, ...]]:
    """teacher_id -> the regions of its schools, in the current snapshot (empty if none)."""
    db = sink.database
    rows = sink.query_rows(
        f"SELECT t.teacher_id, groupUniqArray(m.region_id) FROM {db}.registry_teachers AS t "
        f"INNER JOIN {db}.registry_schools AS s ON s.school_id = t.school_id AND s.snapshot = t.snapshot "
        f"INNER JOIN {db}.registry_municipalities AS m "
        f"ON m.municipality_id = s.municipality_id AND m.snapshot = t.snapshot "
        f"WHERE t.snapshot = {current_snapshot_sql(db)} GROUP BY t.teacher_id"
    )
    return {str(r[0]): tuple(sorted(r[1])) for r in rows}
