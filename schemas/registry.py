"""The registry export (FGIS «Моя школа»): CSV files, their headers, and row checks.

Checks that need one row only (header, empty ids, dates) happen here while the file streams;
checks across rows (duplicate ids, unknown parents) run in ClickHouse over the loaded snapshot,
so a registry of millions of students needs no memory here. Every error names file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

MAX_FIELD_CHARS = 1000
#: Columns that hold a person's id: pseudonymised at load when a key is set (``schemas.pseudonym``),
#: as the same ids are in events. Schools, municipalities and regions keep their ids.
PERSON_ID_COLUMNS = frozenset({"teacher_id", "student_id", "staff_id"})


class RegistryError(ValueError):
    """A registry file is wrong; the message names the file and the line."""


@dataclass(frozen=True)
class RegistryFile:
    name: str  # file name, e.g. "schools.csv"
    table: str  # ClickHouse table, e.g. "registry_schools"
    columns: tuple[str, ...]
    key: tuple[str, ...]  # unique per snapshot
    parent: tuple[str, str, str] | None  # (column, parent table, parent id column)
    date_columns: tuple[str, ...] = ()
    #: a missing file is read as one with no rows (an export made before the file existed)
    optional: bool = False


FILES: tuple[RegistryFile, ...] = (
    RegistryFile("regions.csv", "registry_regions", ("region_id", "name"), ("region_id",), None),
    RegistryFile(
        "municipalities.csv",
        "registry_municipalities",
        ("municipality_id", "region_id", "name"),
        ("municipality_id",),
        ("region_id", "registry_regions", "region_id"),
    ),
    RegistryFile(
        "schools.csv",
        "registry_schools",
        ("school_id", "municipality_id", "name"),
        ("school_id",),
        ("municipality_id", "registry_municipalities", "municipality_id"),
    ),
    # a teacher may work in several schools: the pair is the key
    RegistryFile(
        "teachers.csv",
        "registry_teachers",
        ("teacher_id", "school_id"),
        ("teacher_id", "school_id"),
        ("school_id", "registry_schools", "school_id"),
    ),
    RegistryFile(
        "students.csv",
        "registry_students",
        ("student_id", "school_id", "birth_date"),
        ("student_id",),
        ("school_id", "registry_schools", "school_id"),
        date_columns=("birth_date",),
    ),
    # the accounts of a municipality's education authority: the people through whom the
    # municipality itself acts on the platform (events with role staff and user_id = staff_id)
    RegistryFile(
        "staff.csv",
        "registry_staff",
        ("staff_id", "municipality_id"),
        ("staff_id",),
        ("municipality_id", "registry_municipalities", "municipality_id"),
        optional=True,
    ),
)


def read_rows(directory: Path, spec: RegistryFile) -> Iterator[tuple[object, ...]]:
    """(line, *columns) per data row, in the column order of ``spec``; raises RegistryError."""
    path = directory / spec.name
    if not path.is_file():
        if path.exists():
            raise RegistryError(f"{spec.name}: not a regular file in {directory}")
        if spec.optional:
            return
        raise RegistryError(f"{spec.name}: missing from {directory}")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            if header is None:
                raise RegistryError(f"{spec.name}:1: empty file, expected the header {','.join(spec.columns)}")
            header = [h.strip() for h in header]
            if sorted(header) != sorted(spec.columns):
                raise RegistryError(f"{spec.name}:1: header is {','.join(header)}, expected {','.join(spec.columns)}")
            order = [header.index(c) for c in spec.columns]
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    raise RegistryError(f"{spec.name}:{line}: {len(row)} fields, expected {len(header)}")
                values = [row[i].strip() for i in order]
                yield (line, *(_value(spec, line, c, v) for c, v in zip(spec.columns, values, strict=True)))
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{spec.name}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise RegistryError(f"{spec.name}: bad CSV: {exc}") from None


def _value(spec: RegistryFile, line: int, column: str, value: str) -> object:
    if not value and column != "name":
        raise RegistryError(f"{spec.name}:{line}: empty {column}")
    if len(value) > MAX_FIELD_CHARS:
        raise RegistryError(f"{spec.name}:{line}: {column} is longer than {MAX_FIELD_CHARS} characters")
    if column in spec.date_columns:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise RegistryError(f"{spec.name}:{line}: {column} {value[:40]!r} is not a date (YYYY-MM-DD)") from None
    return value
