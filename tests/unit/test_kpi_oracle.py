"""``tests.support.kpi_oracle`` checked against figures worked out by hand from SPEC.md on the
dataset of ``tests.support.kpi_dataset`` (its docstring lists what each entity is for).

Weeks: W1 = 2026-09-07, W2 = 2026-09-14, W3 = 2026-09-21, W4 = 2026-09-28 (Monday 00:00 MSK).
Counts are (teachers_total, teachers_registered, a, b, c, d, active); each comment names the
teachers behind a count.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.kpi_dataset import NOW_MS, W1, W2, W3, W4, build
from tests.support.kpi_oracle import COLUMNS, kpi_unit_week
from tests.support.oracle import Expected, expected


@pytest.fixture(scope="module")
def truth() -> Expected:
    _, lines = build()
    return expected(lines, NOW_MS)


@pytest.fixture(scope="module")
def rows(truth: Expected) -> dict[tuple[date, str, str], dict[str, int | float | None]]:
    registry, _ = build()
    return kpi_unit_week(registry, truth.teacher_week, truth.registrations, truth.staff_week)


def _share(n: int, d: int) -> float:
    return n / d if d else 0.0


def expect(
    teachers: tuple[int, int, int, int, int, int, int],
    students: tuple[int, int, int],
    schools: tuple[int, int, int] | None = None,
    municipalities: tuple[int, int, int] | None = None,
) -> dict[str, int | float | None]:
    total, registered, a, b, c, d, active = teachers
    row: dict[str, int | float | None] = {
        "teachers_total": total,
        "teachers_registered": registered,
        "teachers_registered_share": _share(registered, total),
    }
    for name, n in zip(("a", "b", "c", "d", "active"), (a, b, c, d, active), strict=True):
        row[f"{name}_teachers"] = n
        row[f"{name}_share"] = _share(n, registered)
    for kind, figures in (("schools", schools), ("municipalities", municipalities)):
        if figures is None:
            row |= dict.fromkeys(
                [f"{kind}_{s}" for s in ("total", "registered", "active", "registered_share", "active_share")]
            )
        else:
            n_total, n_reg, n_active = figures
            row |= {
                f"{kind}_total": n_total,
                f"{kind}_registered": n_reg,
                f"{kind}_active": n_active,
                f"{kind}_registered_share": _share(n_reg, n_total),
                f"{kind}_active_share": _share(n_active, n_reg),
            }
    s_total, s_reg, s_parent = students
    row |= {
        "students_total": s_total,
        "students_registered": s_reg,
        "students_registered_by_parent": s_parent,
        "students_registered_share": _share(s_reg, s_total),
    }
    return row


def test_the_dataset_is_accepted_whole_and_students_and_parents_are_ignored(truth: Expected) -> None:
    assert not truth.rejected and truth.duplicates == 0
    # u01: 4, p01: 6; staff activity is counted, in staff_week
    assert truth.ignored == 10
    # st01: 4, t11 as staff: 3, and the municipality accounts m1 m2 m3 m4
    assert truth.staff_week[(W2, "st01")][:4] == (1, 3, 3, 0)
    assert truth.staff_week[(W1, "t11")][:4] == (0, 3, 3, 0)
    assert truth.staff_week[(W1, "m2")][:4] == (1, 0, 0, 0) and truth.staff_week[(W2, "m2")][:4] == (0, 3, 3, 0)


def test_boundary_instants_fall_in_the_week_that_starts_at_monday_midnight_moscow(truth: Expected) -> None:
    # t05: Fri + 23:59:59.999 in W1; 00:00:00.000 + two more in W2
    assert truth.teacher_week[(W1, "t05")][:4] == (1, 2, 2, 0)
    assert truth.teacher_week[(W2, "t05")][:4] == (0, 3, 3, 0)
    # t06: in W2 exactly 10 group + personal messages (channel ones excluded)
    assert truth.teacher_week[(W2, "t06")][:4] == (0, 2, 10, 0)


def test_one_row_per_registry_unit_and_week_from_first_to_newest_event(rows: dict) -> None:
    units = {("region", r) for r in ("r1", "r2")}
    units |= {("municipality", f"m{i}") for i in range(1, 5)}
    units |= {("school", f"s{i}") for i in range(1, 9)}
    assert set(rows) == {(week, kind, unit) for week in (W1, W2, W3, W4) for kind, unit in units}
    assert all(list(row) == list(COLUMNS) for row in rows.values())


@pytest.mark.parametrize(
    ("week", "row"),
    [
        # registered: t01 t02 t03 t05 t12 (t04 W3, t14 W4, t13 never); a: t01 t05; b: t01 (t05 has 2);
        # d: t03; active: t01. Schools s1 s2 registered, s1 active (s2: t13's chat is unregistered).
        (W1, expect((8, 5, 2, 1, 0, 1, 1), (7, 3, 2), schools=(3, 2, 1), municipalities=(2, 1, 1))),
        # a: t01 t02 t03 t05; b: t01 t03 t05 (t02 has 1); c: t01; active: t01 t02 (2+1 messages) t03 t05
        (W2, expect((8, 5, 4, 3, 1, 0, 4), (7, 4, 3), schools=(3, 3, 3), municipalities=(2, 2, 2))),
        # t04 registered now: a and active from its W1 activity; d: t01's call
        (W3, expect((8, 6, 5, 0, 0, 1, 5), (7, 5, 3), schools=(3, 3, 3), municipalities=(2, 2, 2))),
        # t14 registered, inactive
        (W4, expect((8, 7, 5, 0, 0, 0, 5), (7, 5, 3), schools=(3, 3, 3), municipalities=(2, 2, 2))),
    ],
)
def test_region_r1(rows: dict, week: date, row: dict) -> None:
    assert rows[(week, "region", "r1")] == row


@pytest.mark.parametrize(
    ("week", "row"),
    [
        # registered: t06 t08 t09 t10 t11 t15 (23:59:59.999) t17 t19; a: t11 t17; b: t17 (t11's were staff)
        # schools: s4 s5 s7 registered, s7 active; no municipality registered: shares 0.0
        (W1, expect((12, 8, 2, 1, 0, 0, 1), (8, 2, 0), schools=(5, 3, 1), municipalities=(2, 0, 0))),
        # + t07 (Monday 00:00) t18; a: + t09; c: t06; d: t07 t15; schools: + s6, active + s5 (together)
        (W2, expect((12, 10, 3, 0, 1, 2, 1), (8, 4, 1), schools=(5, 4, 2), municipalities=(2, 0, 0))),
        # a: + t19; b: t08 t19; active: t17 t19; s8 (t19) unregistered; m3 registered and active
        (W3, expect((12, 10, 4, 2, 0, 0, 2), (8, 5, 2), schools=(5, 4, 2), municipalities=(2, 1, 1))),
        # d: t18's call
        (W4, expect((12, 10, 4, 0, 0, 1, 2), (8, 6, 3), schools=(5, 4, 2), municipalities=(2, 1, 1))),
    ],
)
def test_region_r2(rows: dict, week: date, row: dict) -> None:
    assert rows[(week, "region", "r2")] == row


def test_teacher_of_two_schools_counts_once_in_its_municipality(rows: dict) -> None:
    # m1 = s1 {t01 t02 t04 t12} + s2 {t02 t03 t13}: 6 teachers; registered t01 t02 t03 t12
    assert rows[(W1, "municipality", "m1")] == expect((6, 4, 1, 1, 0, 1, 1), (5, 2, 1), schools=(2, 2, 1))
    # ... and fully in each of its schools: s2 = t02 t03 t13, both registered ones active in W2
    assert rows[(W2, "school", "s2")] == expect((3, 2, 2, 1, 0, 0, 2), (2, 1, 1))
    assert rows[(W1, "school", "s2")] == expect((3, 2, 0, 0, 0, 1, 0), (2, 0, 0))


def test_school_active_only_with_its_teachers_together(rows: dict) -> None:
    # s5: t09 (1 chat, 1 message) + t10 (2 messages) in W2; neither teacher is active
    assert rows[(W2, "school", "s5")] == expect((2, 2, 1, 0, 0, 0, 0), (1, 0, 0))
    assert rows[(W1, "municipality", "m3")]["schools_active"] == 0
    assert rows[(W2, "municipality", "m3")]["schools_active"] == 1


def test_late_registered_municipality_active_from_its_registration_week_without_active_teachers(rows: dict) -> None:
    assert rows[(W2, "region", "r2")]["municipalities_registered"] == 0
    # m3: registered t06 t07 t08 t09 t10 t11 t15 of 8 (t16 never): 2 chats (t09 t11), 9 messages together
    # a: t09 t11; b: t08; students u08 u11 u12 of u08..u12, parent u12
    assert rows[(W3, "municipality", "m3")] == expect((8, 7, 2, 1, 0, 0, 0), (5, 3, 1), schools=(3, 3, 1))
    assert rows[(W3, "region", "r2")]["municipalities_active"] == 1


def test_registered_school_of_an_unregistered_municipality(rows: dict) -> None:
    # m4 = s7 {t17 t18} + s8 {t19 t20}; W2: t17 t18 t19 registered, t17 active; s7 registered and active
    assert rows[(W2, "municipality", "m4")] == expect((4, 3, 1, 0, 0, 0, 1), (3, 1, 0), schools=(2, 1, 1))


def test_shares_written_out(rows: dict) -> None:
    r1 = rows[(W2, "region", "r1")]
    assert (r1["a_share"], r1["b_share"], r1["c_share"], r1["d_share"]) == (0.8, 0.6, 0.2, 0.0)
    assert r1["active_share"] == 0.8
    assert r1["students_registered_share"] == pytest.approx(4 / 7)
    r2 = rows[(W1, "region", "r2")]
    assert r2["schools_registered_share"] == 0.6
    assert r2["schools_active_share"] == pytest.approx(1 / 3)
    assert (r2["municipalities_registered_share"], r2["municipalities_active_share"]) == (0.0, 0.0)


def test_no_events_no_rows() -> None:
    registry, _ = build()
    assert kpi_unit_week(registry, {}, set()) == {}


def test_weeks_without_events_still_have_rows() -> None:
    registry, _ = build()
    teacher_week = {(W1, "t01"): (1, 3, 3, 0, 1), (W3, "t01"): (0, 0, 0, 1, 1)}
    out = kpi_unit_week(registry, teacher_week, set())
    assert {week for week, _, _ in out} == {W1, W2, W3}
    # unregistered: nothing counts
    assert out[(W2, "school", "s1")] == expect((4, 0, 0, 0, 0, 0, 0), (3, 0, 0))
