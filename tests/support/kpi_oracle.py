"""The expected rows of the view ``sferum.kpi_unit_week``, computed straight from the definitions
(docs/indicators.md) with the standard library, independently of the code under test (no import
from ``stream``, ``schemas``, ``sinks``).

Input is the registry as CSV rows (header first) and what ``tests.support.oracle.expected``
accepted: its ``teacher_week`` rows and ``registrations``, so duplicates and lateness are decided
in one place only. Usage::

    truth = expected(lines, now_ms)
    rows = kpi_unit_week(registry, truth.teacher_week, truth.registrations)
    rows[(date(2026, 9, 14), "region", "r1")]["active_share"]

Readings of the definitions fixed here:
- "registered by W": the earliest ``registered`` event of that (role, user_id) has ``ts`` before
  Monday 00:00 MSK of the next week; teachers need role ``teacher``, schools ``school``,
  municipalities ``municipality``, students ``student``. Ties on the earliest ``ts`` are broken by
  the smaller ``event_id`` (for the ``registered_by`` split).
- Activity counts whenever it happened, also before the registration (cumulative up to the end
  of W); only *who* is counted depends on the registration.
- The weeks are those of the accepted events: ``teacher_week`` rows and registrations (of anyone,
  in the registry or not); events of other roles are not accepted into either and do not widen it.
- A municipality acts through its staff (``staff.csv``, optional: none when absent): it is active
  when registered and its staff registered by W (role ``staff``) together created >= 1 group chat
  and wrote >= 3 group-chat messages up to the end of W, whenever that activity happened (as for
  teachers). Its list: ``absent`` (not registered), ``no_staff_registered`` (registered, none of
  its staff registered), ``active``, else ``staff_not_active``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta

from tests.support.eventgen import MSK, week_of

UNIT_KINDS = ("region", "municipality", "school")
ACTIVE_CHATS = 1  # group chats created, cumulative
ACTIVE_MESSAGES = 3  # group-chat messages, cumulative
B_MESSAGES = 3  # group-chat messages in the week
C_MESSAGES = 10  # group + personal messages in the week
D_CALLS = 1  # calls in the week

TEACHER_COLUMNS = (
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
)
SCHOOL_COLUMNS = (
    "schools_total",
    "schools_registered",
    "schools_active",
    "schools_registered_share",
    "schools_active_share",
)
MUNICIPALITY_COLUMNS = (
    "municipalities_total",
    "municipalities_registered",
    "municipalities_active",
    "municipalities_registered_share",
    "municipalities_active_share",
    "municipalities_no_staff_registered",
)
#: the staff of the municipalities: municipality and region rows
STAFF_COLUMNS = ("municipality_staff_total", "municipality_staff_registered")
#: the school or municipality itself (NULL on region rows)
UNIT_COLUMNS = ("unit_registered", "unit_active")
STUDENT_COLUMNS = (
    "students_total",
    "students_registered",
    "students_registered_by_parent",
    "students_registered_share",
)
#: the numeric columns (0/1 for flags, None where a column does not apply)
COLUMNS = TEACHER_COLUMNS + SCHOOL_COLUMNS + MUNICIPALITY_COLUMNS + STAFF_COLUMNS + STUDENT_COLUMNS + UNIT_COLUMNS
#: the text columns: which of the seed's lists a municipality is in (None on other rows)
LIST_COLUMNS = ("municipality_list",)
MUNICIPALITY_LISTS = ("absent", "no_staff_registered", "active", "staff_not_active")


def same_value(got: object, want: object) -> bool:
    """One cell of ``kpi_unit_week`` against the oracle: NULL only where NULL, text equal, numbers to 1e-12."""
    if got is None or want is None:
        return got is None and want is None
    if isinstance(got, str) or isinstance(want, str):
        return got == want
    assert isinstance(got, int | float) and isinstance(want, int | float), (got, want)
    return math.isclose(got, want, rel_tol=0, abs_tol=1e-12)


Key = tuple[date, str, str]
TeacherWeek = Mapping[tuple[date, str], tuple[int, ...]]
Registration = tuple[str, str, str, int, str]  # (role, user_id, registered_by, ts_ms, event_id)


def _table(rows: list[list[str]]) -> list[dict[str, str]]:
    """CSV rows, header first, as dicts by (stripped) column name."""
    if not rows:
        return []
    header = [name.strip() for name in rows[0]]
    return [dict(zip(header, (value.strip() for value in row), strict=True)) for row in rows[1:] if row]


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _week_end_ms(week_start: date) -> int:
    """Monday 00:00 MSK after ``week_start``, in epoch milliseconds (the end of W, exclusive)."""
    return int(datetime.combine(week_start + timedelta(days=7), time(0), tzinfo=MSK).timestamp() * 1000)


def _first_registrations(registrations: Iterable[Registration]) -> dict[tuple[str, str], tuple[int, str]]:
    """(role, user_id) -> (ts_ms, registered_by) of its earliest registration."""
    first: dict[tuple[str, str], tuple[int, str, str]] = {}
    for role, user, by, ts, event_id in registrations:
        best = first.get((role, user))
        if best is None or (ts, event_id) < (best[0], best[2]):
            first[(role, user)] = (ts, by, event_id)
    return {key: (ts, by) for key, (ts, by, _) in first.items()}


class _Registry:
    """The registry, with each unit's schools, municipalities, teachers and students."""

    def __init__(self, registry: Mapping[str, list[list[str]]]) -> None:
        tables = {name.removesuffix(".csv"): rows for name, rows in registry.items()}
        regions = [row["region_id"] for row in _table(tables.get("regions", []))]
        municipalities = _table(tables.get("municipalities", []))
        schools = _table(tables.get("schools", []))
        self.units: list[tuple[str, str]] = [("region", r) for r in regions]
        self.units += [("municipality", m["municipality_id"]) for m in municipalities]
        self.units += [("school", s["school_id"]) for s in schools]

        # a teacher or student of a school missing from schools.csv belongs to no unit
        school_teachers: dict[str, set[str]] = {s["school_id"]: set() for s in schools}
        for row in _table(tables.get("teachers", [])):
            school_teachers.setdefault(row["school_id"], set()).add(row["teacher_id"])
        school_students: dict[str, set[str]] = {s["school_id"]: set() for s in schools}
        for row in _table(tables.get("students", [])):
            school_students.setdefault(row["school_id"], set()).add(row["student_id"])
        #: municipality -> its staff accounts (staff.csv is optional)
        self.staff: dict[str, set[str]] = {m["municipality_id"]: set() for m in municipalities}
        for row in _table(tables.get("staff", [])):
            self.staff.setdefault(row["municipality_id"], set()).add(row["staff_id"])

        #: unit -> its schools; region -> its municipalities
        self.schools: dict[tuple[str, str], set[str]] = {unit: set() for unit in self.units}
        self.municipalities: dict[str, set[str]] = {r: set() for r in regions}
        region_of = {m["municipality_id"]: m["region_id"] for m in municipalities}
        for m in municipalities:
            self.municipalities.setdefault(m["region_id"], set()).add(m["municipality_id"])
        for s in schools:
            school, municipality = s["school_id"], s["municipality_id"]
            self.schools[("school", school)].add(school)
            self.schools.setdefault(("municipality", municipality), set()).add(school)
            if municipality in region_of:
                self.schools[("region", region_of[municipality])].add(school)
        #: unit -> its teachers (each once) and students
        self.teachers = {unit: set().union(*(school_teachers[s] for s in ss)) for unit, ss in self.schools.items()}
        self.students = {unit: set().union(*(school_students[s] for s in ss)) for unit, ss in self.schools.items()}


def kpi_unit_week(
    registry: Mapping[str, list[list[str]]],
    teacher_week: TeacherWeek,
    registrations: Iterable[Registration],
    staff_week: TeacherWeek | None = None,
) -> dict[Key, dict[str, int | float | None]]:
    """(week_start, unit_kind, unit_id) -> {column: value} for every unit and week of the data.

    ``teacher_week`` maps (week_start, teacher_id) to (group_chats_created, group_messages,
    chat_messages, calls, ...); extra trailing fields (the version) are ignored. ``staff_week``
    is the same for activity sent with role staff: a municipality is active through its staff
    (``staff.csv``), as the seed defines it. Each row also has the LIST_COLUMNS.
    """
    staff_week = staff_week or {}
    registrations = list(registrations)
    reg = _Registry(registry)
    first = _first_registrations(registrations)

    weeks_seen = {week for week, _ in teacher_week} | {week_of(r[3]).date() for r in registrations}
    weeks_seen |= {week for week, _ in staff_week}
    if not weeks_seen:
        return {}
    weeks: list[date] = []
    week = min(weeks_seen)
    while week <= max(weeks_seen):
        weeks.append(week)
        week += timedelta(days=7)

    # per teacher: week -> (created, group, chat, calls)
    by_teacher: dict[str, dict[date, tuple[int, int, int, int]]] = {}
    for (week_start, teacher), counts in teacher_week.items():
        created, group, chat, calls = counts[:4]
        by_teacher.setdefault(teacher, {})[week_start] = (created, group, chat, calls)

    by_staff: dict[str, dict[date, tuple[int, int]]] = {}
    for (week_start, user), counts in staff_week.items():
        by_staff.setdefault(user, {})[week_start] = (counts[0], counts[1])

    out: dict[Key, dict[str, int | float | None]] = {}
    for week in weeks:
        for (kind, unit_id), row in _week_rows(week, reg, first, by_teacher, by_staff).items():
            out[(week, kind, unit_id)] = row
    return out


def _week_rows(
    week: date,
    reg: _Registry,
    first: dict[tuple[str, str], tuple[int, str]],
    by_teacher: dict[str, dict[date, tuple[int, int, int, int]]],
    by_staff: dict[str, dict[date, tuple[int, int]]],
) -> dict[tuple[str, str], dict[str, int | float | None]]:
    end_ms = _week_end_ms(week)

    def registered(role: str, user: str) -> bool:
        found = first.get((role, user))
        return found is not None and found[0] < end_ms

    # teachers of the registry: cumulative counters (registered or not), flags of the registered
    cumulative: dict[str, tuple[int, int]] = {}
    flags: dict[str, dict[str, bool]] = {}
    for teacher in set().union(*reg.teachers.values()):
        rows = by_teacher.get(teacher, {})
        created = sum(r[0] for w, r in rows.items() if w <= week)
        group = sum(r[1] for w, r in rows.items() if w <= week)
        cumulative[teacher] = (created, group)
        if not registered("teacher", teacher):
            continue
        this = rows.get(week, (0, 0, 0, 0))
        flags[teacher] = {
            "a": created >= ACTIVE_CHATS,
            "b": this[1] >= B_MESSAGES,
            "c": this[2] >= C_MESSAGES,
            "d": this[3] >= D_CALLS,
            "active": created >= ACTIVE_CHATS and group >= ACTIVE_MESSAGES,
        }

    def together_active(teachers: set[str]) -> bool:
        """The registered ones among ``teachers``, summed, reached the active thresholds."""
        counted = [t for t in teachers if t in flags]
        created = sum(cumulative[t][0] for t in counted)
        group = sum(cumulative[t][1] for t in counted)
        return created >= ACTIVE_CHATS and group >= ACTIVE_MESSAGES

    school_reg = {s for kind, s in reg.units if kind == "school" and registered("school", s)}
    school_active = {s for s in school_reg if together_active(reg.teachers[("school", s)])}
    muni_reg = {m for kind, m in reg.units if kind == "municipality" and registered("municipality", m)}

    muni_staff_reg: dict[str, set[str]] = {}
    muni_active: set[str] = set()
    for kind, m in reg.units:
        if kind != "municipality":
            continue
        staff = {a for a in reg.staff.get(m, set()) if registered("staff", a)}
        muni_staff_reg[m] = staff
        # the registered staff together, all their activity up to the end of W
        created = sum(sum(r[0] for w, r in by_staff.get(a, {}).items() if w <= week) for a in staff)
        group = sum(sum(r[1] for w, r in by_staff.get(a, {}).items() if w <= week) for a in staff)
        if m in muni_reg and created >= ACTIVE_CHATS and group >= ACTIVE_MESSAGES:
            muni_active.add(m)

    def muni_list(m: str) -> str:
        if m not in muni_reg:
            return "absent"
        if not muni_staff_reg[m]:
            return "no_staff_registered"
        return "active" if m in muni_active else "staff_not_active"

    out: dict[tuple[str, str], dict[str, int | float | None]] = {}
    for unit in reg.units:
        kind, unit_id = unit
        teachers = reg.teachers[unit]
        counted = [t for t in teachers if t in flags]
        row: dict[str, int | float | None] = {
            "teachers_total": len(teachers),
            "teachers_registered": len(counted),
        }
        for flag in ("a", "b", "c", "d", "active"):
            n = sum(1 for t in counted if flags[t][flag])
            row[f"{flag}_teachers"] = n
            row[f"{flag}_share"] = _share(n, len(counted))
        row["teachers_registered_share"] = _share(len(counted), len(teachers))
        row["active_share_of_total"] = _share(int(row["active_teachers"] or 0), len(teachers))

        if kind == "school":
            row.update(dict.fromkeys(SCHOOL_COLUMNS))
        else:
            schools = reg.schools[unit]
            n_reg, n_active = len(schools & school_reg), len(schools & school_active)
            row["schools_total"] = len(schools)
            row["schools_registered"] = n_reg
            row["schools_active"] = n_active
            row["schools_registered_share"] = _share(n_reg, len(schools))
            row["schools_active_share"] = _share(n_active, n_reg)

        if kind == "region":
            munis = reg.municipalities[unit_id]
            n_reg, n_active = len(munis & muni_reg), len(munis & muni_active)
            row["municipalities_total"] = len(munis)
            row["municipalities_registered"] = n_reg
            row["municipalities_active"] = n_active
            row["municipalities_registered_share"] = _share(n_reg, len(munis))
            row["municipalities_active_share"] = _share(n_active, n_reg)
            row["municipalities_no_staff_registered"] = sum(1 for m in munis if muni_list(m) == "no_staff_registered")
            row["municipality_staff_total"] = sum(len(reg.staff.get(m, set())) for m in munis)
            row["municipality_staff_registered"] = sum(len(muni_staff_reg[m]) for m in munis)
        else:
            row.update(dict.fromkeys(MUNICIPALITY_COLUMNS))
        if kind == "municipality":
            row["municipality_staff_total"] = len(reg.staff.get(unit_id, set()))
            row["municipality_staff_registered"] = len(muni_staff_reg[unit_id])
            row["unit_registered"] = int(unit_id in muni_reg)
            row["unit_active"] = int(unit_id in muni_active)
            row["municipality_list"] = muni_list(unit_id)
        elif kind == "school":
            row.update(dict.fromkeys(STAFF_COLUMNS))
            row["unit_registered"] = int(unit_id in school_reg)
            row["unit_active"] = int(unit_id in school_active)
            row["municipality_list"] = None
        else:
            row.update(dict.fromkeys(UNIT_COLUMNS))
            row["municipality_list"] = None

        students = reg.students[unit]
        students_reg = [s for s in students if registered("student", s)]
        row["students_total"] = len(students)
        row["students_registered"] = len(students_reg)
        row["students_registered_by_parent"] = sum(1 for s in students_reg if first[("student", s)][1] == "parent")
        row["students_registered_share"] = _share(len(students_reg), len(students))

        out[unit] = {column: row[column] for column in COLUMNS + LIST_COLUMNS}
    return out
