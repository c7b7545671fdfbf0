"""``tests.support.kpi_oracle`` checked against figures worked out by hand from the definitions
(docs/indicators.md) on the dataset of ``tests.support.kpi_dataset`` (its docstring lists what each
entity is for).

Weeks: W1 = 2026-09-07, W2 = 2026-09-14, W3 = 2026-09-21, W4 = 2026-09-28 (Monday 00:00 MSK).
Counts are (teachers_total, teachers_registered, a, b, c, d, active); each comment names the
teachers behind a count.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.kpi_dataset import NOW_MS, W1, W2, W3, W4, WEEKS, build
from tests.support.kpi_oracle import COLUMNS, LIST_COLUMNS, kpi_unit_week
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
    municipalities: tuple[int, int, int, int] | None = None,
    staff: tuple[int, int] | None = None,
    unit: tuple[int, int, str | None] | None = None,
) -> dict[str, int | float | str | None]:
    """A row: teachers (total, registered, a, b, c, d, active); students (total, registered, by a
    parent); schools (total, registered, active); municipalities (total, registered, active, with no
    staff registered); staff of the municipalities (total, registered); the unit itself (registered,
    active, municipality list)."""
    total, registered, a, b, c, d, active = teachers
    row: dict[str, int | float | str | None] = {
        "teachers_total": total,
        "teachers_registered": registered,
        "teachers_registered_share": _share(registered, total),
    }
    for name, n in zip(("a", "b", "c", "d", "active"), (a, b, c, d, active), strict=True):
        row[f"{name}_teachers"] = n
        row[f"{name}_share"] = _share(n, registered)
    row["active_share_of_total"] = _share(active, total)
    for kind, figures in (("schools", schools), ("municipalities", municipalities)):
        names = [f"{kind}_{s}" for s in ("total", "registered", "active", "registered_share", "active_share")]
        if figures is None:
            row |= dict.fromkeys(names)
        else:
            n_total, n_reg, n_active = figures[:3]
            row |= {
                f"{kind}_total": n_total,
                f"{kind}_registered": n_reg,
                f"{kind}_active": n_active,
                f"{kind}_registered_share": _share(n_reg, n_total),
                f"{kind}_active_share": _share(n_active, n_reg),
            }
    row["municipalities_no_staff_registered"] = None if municipalities is None else municipalities[3]
    row["municipality_staff_total"], row["municipality_staff_registered"] = staff or (None, None)
    s_total, s_reg, s_parent = students
    row |= {
        "students_total": s_total,
        "students_registered": s_reg,
        "students_registered_by_parent": s_parent,
        "students_registered_share": _share(s_reg, s_total),
    }
    row["unit_registered"], row["unit_active"], row["municipality_list"] = unit or (None, None, None)
    return row


def test_the_dataset_is_accepted_whole_and_students_and_parents_are_ignored(truth: Expected) -> None:
    assert not truth.rejected and truth.duplicates == 0
    # u01: 4, p01: 6; staff activity is counted, in staff_week
    assert truth.ignored == 10
    # st01: 4, t11 as staff: 3, and the municipalities' staff a11 … a61
    assert truth.staff_week[(W2, "st01")][:4] == (1, 3, 3, 0)
    assert truth.staff_week[(W1, "t11")][:4] == (0, 3, 3, 0)
    assert truth.staff_week[(W1, "a21")][:4] == (1, 1, 1, 0) and truth.staff_week[(W2, "a22")][:4] == (0, 2, 2, 0)
    # a51: personal chat and messages and a call, then a channel, then 2 group messages
    assert truth.staff_week[(W2, "a51")][:4] == (0, 0, 6, 1)
    assert truth.staff_week[(W3, "a51")][:4] == (0, 0, 0, 0) and truth.staff_week[(W4, "a51")][:4] == (0, 2, 2, 0)


def test_boundary_instants_fall_in_the_week_that_starts_at_monday_midnight_moscow(truth: Expected) -> None:
    # t05: Fri + 23:59:59.999 in W1; 00:00:00.000 + two more in W2
    assert truth.teacher_week[(W1, "t05")][:4] == (1, 2, 2, 0)
    assert truth.teacher_week[(W2, "t05")][:4] == (0, 3, 3, 0)
    # t06: in W2 exactly 10 group + personal messages (channel ones excluded)
    assert truth.teacher_week[(W2, "t06")][:4] == (0, 2, 10, 0)


def test_one_row_per_registry_unit_and_week_from_first_to_newest_event(rows: dict) -> None:
    units = {("region", r) for r in ("r1", "r2")}
    units |= {("municipality", f"m{i}") for i in range(1, 7)}
    units |= {("school", f"s{i}") for i in range(1, 9)}
    assert set(rows) == {(week, kind, unit) for week in (W1, W2, W3, W4) for kind, unit in units}
    assert all(list(row) == [*COLUMNS, *LIST_COLUMNS] for row in rows.values())


@pytest.mark.parametrize(
    ("week", "row"),
    [
        # registered: t01 t02 t03 t05 t12 (t04 W3, t14 W4, t13 never); a: t01 t05; b: t01 (t05 has 2);
        # d: t03; active: t01. Schools s1 s2 registered, s1 active (s2: t13's chat is unregistered).
        # Municipalities m1 (active: a11) and m5 (staff a51, inactive) registered, m2 from W2;
        # staff a11 a12 a21 a22 a51, registered a11 a21 a51 (a22 in W2)
        (W1, expect((8, 5, 2, 1, 0, 1, 1), (7, 3, 2), (3, 2, 1), (3, 2, 1, 0), staff=(5, 3))),
        # a: t01 t02 t03 t05; b: t01 t03 t05 (t02 has 1); c: t01; active: t01 t02 (2+1 messages) t03 t05;
        # m2 active by a21 and a22 together
        (W2, expect((8, 5, 4, 3, 1, 0, 4), (7, 4, 3), (3, 3, 3), (3, 3, 2, 0), staff=(5, 4))),
        # t04 registered now: a and active from its W1 activity; d: t01's call
        (W3, expect((8, 6, 5, 0, 0, 1, 5), (7, 5, 3), (3, 3, 3), (3, 3, 2, 0), staff=(5, 4))),
        # t14 registered, inactive; a51's 2 group messages without a chat of its own: m5 still inactive
        (W4, expect((8, 7, 5, 0, 0, 0, 5), (7, 5, 3), (3, 3, 3), (3, 3, 2, 0), staff=(5, 4))),
    ],
)
def test_region_r1(rows: dict, week: date, row: dict) -> None:
    assert rows[(week, "region", "r1")] == row


@pytest.mark.parametrize(
    ("week", "row"),
    [
        # registered: t06 t08 t09 t10 t11 t15 (23:59:59.999) t17 t19; a: t11 t17; b: t17 (t11's were staff)
        # schools: s4 s5 s7 registered, s7 active; municipalities: only m6, whose staff a61 never
        # registers; staff a31 a41 a61, registered a41 (of the unregistered m4)
        (W1, expect((12, 8, 2, 1, 0, 0, 1), (8, 2, 0), (5, 3, 1), (3, 1, 0, 1), staff=(3, 1))),
        # + t07 (Monday 00:00) t18; a: + t09; c: t06; d: t07 t15; schools: + s6, active + s5 (together)
        (W2, expect((12, 10, 3, 0, 1, 2, 1), (8, 4, 1), (5, 4, 2), (3, 1, 0, 1), staff=(3, 1))),
        # a: + t19; b: t08 t19; active: t17 t19; s8 (t19) unregistered; m3 registered, its staff not yet
        (W3, expect((12, 10, 4, 2, 0, 0, 2), (8, 5, 2), (5, 4, 2), (3, 2, 0, 2), staff=(3, 1))),
        # d: t18's call; a31 registered: m3 active by its activity of W2
        (W4, expect((12, 10, 4, 0, 0, 1, 2), (8, 6, 3), (5, 4, 2), (3, 2, 1, 1), staff=(3, 2))),
    ],
)
def test_region_r2(rows: dict, week: date, row: dict) -> None:
    assert rows[(week, "region", "r2")] == row


def test_teacher_of_two_schools_counts_once_in_its_municipality(rows: dict) -> None:
    # m1 = s1 {t01 t02 t04 t12} + s2 {t02 t03 t13}: 6 teachers; registered t01 t02 t03 t12
    assert rows[(W1, "municipality", "m1")] == expect(
        (6, 4, 1, 1, 0, 1, 1), (5, 2, 1), schools=(2, 2, 1), staff=(2, 1), unit=(1, 1, "active")
    )
    # ... and fully in each of its schools: s2 = t02 t03 t13, both registered ones active in W2
    assert rows[(W2, "school", "s2")] == expect((3, 2, 2, 1, 0, 0, 2), (2, 1, 1), unit=(1, 1, None))
    assert rows[(W1, "school", "s2")] == expect((3, 2, 0, 0, 0, 1, 0), (2, 0, 0), unit=(1, 0, None))


def test_school_active_only_with_its_teachers_together(rows: dict) -> None:
    # s5: t09 (1 chat, 1 message) + t10 (2 messages) in W2; neither teacher is active
    assert rows[(W2, "school", "s5")] == expect((2, 2, 1, 0, 0, 0, 0), (1, 0, 0), unit=(1, 1, None))
    assert rows[(W1, "municipality", "m3")]["schools_active"] == 0
    assert rows[(W2, "municipality", "m3")]["schools_active"] == 1


def test_municipality_with_its_staff_registered_after_their_activity(rows: dict) -> None:
    assert rows[(W2, "region", "r2")]["municipalities_registered"] == 1  # m6 only
    # m3: registered in W3, its staff a31 (group chat + 3 messages in W2) registers in W4; none of its
    # teachers is active. Teachers t06 t07 t08 t09 t10 t11 t15 of 8 registered (t16 never): a: t09 t11;
    # b: t08 in W3; students u08 u11 u12 of u08..u12 in W3 (+ u09 in W4), by a parent u12 (+ u09)
    assert rows[(W2, "municipality", "m3")]["municipality_list"] == "absent"
    assert rows[(W3, "municipality", "m3")] == expect(
        (8, 7, 2, 1, 0, 0, 0), (5, 3, 1), schools=(3, 3, 1), staff=(1, 0), unit=(1, 0, "no_staff_registered")
    )
    assert rows[(W4, "municipality", "m3")] == expect(
        (8, 7, 2, 0, 0, 0, 0), (5, 4, 2), schools=(3, 3, 1), staff=(1, 1), unit=(1, 1, "active")
    )
    assert rows[(W3, "region", "r2")]["municipalities_active"] == 0
    assert rows[(W4, "region", "r2")]["municipalities_active"] == 1


def test_municipality_active_only_by_two_staff_together(rows: dict) -> None:
    # m2: a21 (1 group chat + 1 group message in W1) and a22 (2 group messages in W2); m2 registers in W2
    m2 = [
        (rows[(w, "municipality", "m2")]["municipality_list"], rows[(w, "municipality", "m2")]["unit_active"])
        for w in WEEKS
    ]
    assert m2 == [("absent", 0), ("active", 1), ("active", 1), ("active", 1)]
    assert [rows[(w, "municipality", "m2")]["municipality_staff_registered"] for w in WEEKS] == [1, 2, 2, 2]


@pytest.mark.parametrize(
    ("municipality", "unit", "staff"),
    [
        # registered from W1; its staff a11 active from W1 (a12 never registers)
        ("m1", (1, 1, "active"), (2, 1)),
        # never registered: its staff a41's group chat and messages make it nothing
        ("m4", (0, 0, "absent"), (1, 1)),
        # registered staff a51 with no activity (W1), then personal chats and messages, a call, a channel
        # and 2 group messages in others' chats: never a group chat of its own with 3 group messages
        ("m5", (1, 0, "staff_not_active"), (1, 1)),
        # registered; its staff a61 is active but never registers: «Отсутствуют регистрации»
        ("m6", (1, 0, "no_staff_registered"), (1, 0)),
    ],
)
def test_municipality_lists_in_every_week(rows: dict, municipality: str, unit: tuple, staff: tuple) -> None:
    for week in WEEKS:
        row = rows[(week, "municipality", municipality)]
        got = (row["unit_registered"], row["unit_active"], row["municipality_list"])
        assert (got, (row["municipality_staff_total"], row["municipality_staff_registered"])) == (unit, staff), week


def test_without_staff_file_no_municipality_is_active(truth: Expected) -> None:
    registry, _ = build()
    del registry["staff"]
    rows = kpi_unit_week(registry, truth.teacher_week, truth.registrations, truth.staff_week)
    r1 = rows[(W4, "region", "r1")]
    assert (r1["municipalities_registered"], r1["municipalities_active"]) == (3, 0)
    assert (r1["municipalities_no_staff_registered"], r1["municipality_staff_total"]) == (3, 0)
    assert rows[(W4, "municipality", "m1")]["municipality_list"] == "no_staff_registered"


def test_registered_school_of_an_unregistered_municipality(rows: dict) -> None:
    # m4 = s7 {t17 t18} + s8 {t19 t20}; W2: t17 t18 t19 registered, t17 active; s7 registered and active
    assert rows[(W2, "municipality", "m4")] == expect(
        (4, 3, 1, 0, 0, 0, 1), (3, 1, 0), schools=(2, 1, 1), staff=(1, 1), unit=(0, 0, "absent")
    )


def test_shares_written_out(rows: dict) -> None:
    r1 = rows[(W2, "region", "r1")]
    assert (r1["a_share"], r1["b_share"], r1["c_share"], r1["d_share"]) == (0.8, 0.6, 0.2, 0.0)
    assert r1["active_share"] == 0.8
    assert r1["students_registered_share"] == pytest.approx(4 / 7)
    r2 = rows[(W1, "region", "r2")]
    assert r2["schools_registered_share"] == 0.6
    assert r2["schools_active_share"] == pytest.approx(1 / 3)
    assert (r2["municipalities_registered_share"], r2["municipalities_active_share"]) == (1 / 3, 0.0)
    # m1 = t01 t02 t04 t12 t03 t13; registered by W2 t01 t02 t03 t12; active t01 t02 t03
    m1 = rows[(W2, "municipality", "m1")]
    assert (m1["active_share"], m1["active_share_of_total"]) == (0.75, 0.5)


def test_no_events_no_rows() -> None:
    registry, _ = build()
    assert kpi_unit_week(registry, {}, set()) == {}


def test_weeks_without_events_still_have_rows() -> None:
    registry, _ = build()
    teacher_week = {(W1, "t01"): (1, 3, 3, 0, 1), (W3, "t01"): (0, 0, 0, 1, 1)}
    out = kpi_unit_week(registry, teacher_week, set())
    assert {week for week, _, _ in out} == {W1, W2, W3}
    # unregistered: nothing counts
    assert out[(W2, "school", "s1")] == expect((4, 0, 0, 0, 0, 0, 0), (3, 0, 0), unit=(0, 0, None))
