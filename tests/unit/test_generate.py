"""``sferum-kpi generate``: deterministic, valid registry and events, in time order, unique ids;
the ``orel`` plan meets the seed's figures; bad arguments get one line."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest

from schemas.decode import Event, decode
from schemas.registry import FILES, read_rows
from stream.tools.generate.allocate import seed_region_plan
from stream.tools.generate.calendar import Period, day_kind, generated_period, last_full_week
from stream.tools.generate.profiles import OREL
from stream.tools.generate.run import EVENTS_FILE, REGISTRY_DIR, generate, plan_profile
from tests.conftest import run_cli

PERIOD = Period(date(2026, 11, 16), 3)  # 2026-11-02 .. 2026-11-22, 4 November a holiday


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate("small", out, period=PERIOD, seed=7)
    return out


def _registry(out: Path) -> dict[str, list[tuple[object, ...]]]:
    return {spec.name: [row[1:] for row in read_rows(out / REGISTRY_DIR, spec)] for spec in FILES}


def _events(out: Path) -> list[Event]:
    now_ms = int(time.time() * 1000)
    decoded = [decode(line, now_ms=now_ms) for line in (out / EVENTS_FILE).read_bytes().splitlines()]
    rejected = [d for d in decoded if not isinstance(d, Event)]
    assert not rejected, rejected[:5]
    return decoded  # type: ignore[return-value]


def test_same_seed_gives_the_same_bytes(small: Path, tmp_path: Path) -> None:
    generate("small", tmp_path, period=PERIOD, seed=7)
    files = [EVENTS_FILE] + [f"{REGISTRY_DIR}/{spec.name}" for spec in FILES]
    for name in files:
        assert (tmp_path / name).read_bytes() == (small / name).read_bytes(), name


def test_another_seed_gives_other_data(small: Path, tmp_path: Path) -> None:
    generate("small", tmp_path, period=PERIOD, seed=8)
    assert (tmp_path / EVENTS_FILE).read_bytes() != (small / EVENTS_FILE).read_bytes()


def test_registry_files_are_valid_with_unique_ids_and_known_parents(small: Path) -> None:
    reg = _registry(small)
    regions = {r[0] for r in reg["regions.csv"]}
    municipalities = {m[0]: m[1] for m in reg["municipalities.csv"]}
    schools = {s[0]: s[1] for s in reg["schools.csv"]}
    assert len(regions) == len(reg["regions.csv"]) == 3
    assert len(municipalities) == len(reg["municipalities.csv"])
    assert len(schools) == len(reg["schools.csv"])
    assert set(municipalities.values()) <= regions
    assert set(schools.values()) <= set(municipalities)
    pairs = reg["teachers.csv"]
    assert len(set(pairs)) == len(pairs), "one row per (teacher, school)"
    assert {school for _, school in pairs} <= set(schools)
    teachers = Counter(teacher for teacher, _ in pairs)
    assert 2000 < len(teachers) < 4000
    assert 0 < sum(1 for n in teachers.values() if n == 2) < 0.06 * len(teachers), "a few teach in two schools"
    students = reg["students.csv"]
    assert len({s[0] for s in students}) == len(students)
    assert {s[1] for s in students} <= set(schools)
    ages = [(date(2026, 9, 1) - s[2]).days / 365.25 for s in students]  # type: ignore[operator]
    assert min(ages) > 6 and max(ages) < 18.5


def test_events_are_valid_unique_in_time_order_and_inside_the_period(small: Path) -> None:
    events = _events(small)
    assert len(events) > 20_000
    assert len({e.event_id for e in events}) == len(events)
    times = [e.ts for e in events]
    assert times == sorted(times)
    assert PERIOD.day_start_ms(0) <= times[0] and times[-1] < PERIOD.end_ms
    assert {e.type for e in events} == {"registered", "chat_created", "message_sent", "call"}
    assert {e.role for e in events} == {"teacher", "student", "parent", "staff", "school", "municipality"}


def test_people_act_only_after_registering_and_only_if_in_the_registry(small: Path) -> None:
    reg = _registry(small)
    known = {t for t, _ in reg["teachers.csv"]} | {s[0] for s in reg["students.csv"]}
    registered: dict[str, int] = {}
    for e in _events(small):
        if e.type == "registered":
            registered.setdefault(e.user_id, e.ts)
            if e.role in ("teacher", "student"):
                assert e.user_id in known
        else:
            assert e.user_id in registered and registered[e.user_id] < e.ts, e


def test_students_under_14_are_registered_by_a_parent(small: Path) -> None:
    births = {s[0]: s[2] for s in _registry(small)["students.csv"]}
    seen: Counter[str] = Counter()
    for e in _events(small):
        if e.type == "registered" and e.role == "student":
            born: date = births[e.user_id]  # type: ignore[assignment]
            on = PERIOD.first_monday  # within three weeks: only a birthday in between could differ
            age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
            if age <= 12 or age >= 15:
                assert e.registered_by == ("parent" if age <= 12 else "self"), (e, born)
            seen[e.registered_by] += 1
    assert seen["parent"] > seen["self"] > 0


def test_teachers_are_busier_on_school_days_than_on_weekends(small: Path) -> None:
    by_kind: Counter[str] = Counter()
    days: Counter[str] = Counter()
    for i in range(PERIOD.n_days):
        days[day_kind(PERIOD.day(i))] += 1
    for e in _events(small):
        if e.role == "teacher" and e.type != "registered":
            index = (e.ts - PERIOD.day_start_ms(0)) // 86_400_000
            by_kind[day_kind(PERIOD.day(index))] += 1
    per_school_day = by_kind["school"] / days["school"]
    assert per_school_day > 3 * by_kind["weekend"] / days["weekend"]
    assert per_school_day > 3 * by_kind["holiday"] / days["holiday"]


def test_orel_plan_meets_the_seed_totals_and_rounds_to_each_list() -> None:
    plan = seed_region_plan(OREL)
    assert [m.name for m in plan.municipalities][-3:] == ["Орёл", "Ливны", "Мценск"]
    assert len(plan.municipalities) == 27
    totals = {
        f: plan.total(f)
        for f in (
            "schools",
            "schools_registered",
            "schools_active",
            "teachers",
            "teachers_registered",
            "teachers_active",
            "students",
            "students_registered",
        )
    }
    assert totals == {
        "schools": 347,
        "schools_registered": 325,
        "schools_active": 141,
        "teachers": 7628,
        "teachers_registered": 5438,
        "teachers_active": 1909,
        "students": 75264,
        "students_registered": 29505,
    }
    for m, seed in zip(plan.municipalities, OREL.municipalities, strict=True):
        for (count, total), share in (
            ((m.schools_active, m.schools_registered), seed.schools_active),
            ((m.teachers_active, m.teachers), seed.teachers_active),
            ((m.students_registered, m.students), seed.students_registered),
        ):
            assert abs(100 * count / total - share.percent) <= 0.5, (m.name, count, total, share)


def test_federal_has_85_regions_and_scales_down(tmp_path: Path) -> None:
    summary = generate("federal", tmp_path, period=Period(date(2026, 11, 16), 1), seed=1, scale=0.002)
    assert summary.registry_rows["regions"] == 85
    assert 1_500 < summary.teachers < 2_900  # 1.1 M x 0.002, at least one teacher per region
    assert summary.events > 0


def test_default_period_is_the_last_full_week_before_today() -> None:
    assert last_full_week(date(2026, 11, 28)) == date(2026, 11, 16)
    assert last_full_week(date(2026, 11, 30)) == date(2026, 11, 23)  # a Monday: last week has ended


def test_period_is_computed_from_a_given_today() -> None:
    # today pinned: the default last week, and any day of a given week, whatever the clock says
    assert generated_period(8, today=date(2026, 11, 28)) == Period(date(2026, 11, 16), 8)
    assert generated_period(3, date(2026, 10, 29), today=date(2026, 12, 3)) == Period(date(2026, 10, 26), 3)
    assert generated_period(1, date(2026, 11, 29), today=date(2026, 11, 30)) == Period(date(2026, 11, 23), 1)
    with pytest.raises(ValueError, match="has not ended yet \\(today is 2026-11-29 in Moscow\\)"):
        generated_period(1, date(2026, 11, 23), today=date(2026, 11, 29))


def test_staff_act_for_their_municipality_as_its_status_says(small: Path) -> None:
    """Every municipality has staff accounts in staff.csv; only those of a registered municipality
    with status staff or active register, and only an active one's staff create a group chat and
    write 3 group messages in it (together), by the end of the period."""
    plans = {m.municipality_id: m for plan in plan_profile("small", seed=7) for m in plan.municipalities}
    staff = dict(row for row in _registry(small)["staff.csv"])  # staff_id -> municipality_id
    assert len(staff) == sum(m.staff for m in plans.values()) and set(staff.values()) == set(plans)
    registered: set[str] = set()
    chats: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    for e in _events(small):
        if e.type == "registered" and e.role in ("municipality", "staff"):
            registered.add(e.user_id)
        elif e.role == "staff" and e.chat_kind == "group" and e.type in ("chat_created", "message_sent"):
            (chats if e.type == "chat_created" else messages)[staff[e.user_id]] += 1
    statuses: Counter[str] = Counter()
    for municipality, plan in plans.items():
        own = {s for s, m in staff.items() if m == municipality and s in registered}
        active = chats[municipality] >= 1 and messages[municipality] >= 3
        got = (municipality in registered, bool(own), active)
        want = {
            "absent": (False, False, False),
            "no_staff": (True, False, False),
            "staff": (True, True, False),
            "active": (True, True, True),
        }[plan.status]
        assert got == want, (municipality, plan.status)
        statuses[plan.status] += 1
    assert set(statuses) >= {"no_staff", "staff", "active"}, statuses


@pytest.mark.clock  # its default period is the last full week before today
def test_cli_writes_the_files_and_one_summary_line(tmp_path: Path) -> None:
    result = run_cli("generate", "--weeks", "1", "--seed", "3", str(tmp_path / "out"), env={}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {tmp_path / 'out'}: 3 regions, ")
    assert len(result.stdout.strip().splitlines()) == 1
    assert (tmp_path / "out" / EVENTS_FILE).stat().st_size > 0
    assert not list((tmp_path / "out").rglob("*.partial"))


@pytest.mark.clock  # "has not ended yet" is judged against today
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--profile", "huge"], "unknown profile 'huge'"),
        (["--weeks", "0"], "--weeks must be 1 to 104"),
        (["--seed", "-1"], "--seed must not be negative"),
        (["--scale", "0"], "--scale must be above 0"),
        (["--profile", "orel", "--scale", "0.5"], "orel is the seed's region at its size"),
        (["--last-week", "someday"], "is not a date"),
        (["--last-week", "2999-01-04"], "has not ended yet"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args: list[str], needle: str, tmp_path: Path) -> None:
    result = run_cli("generate", *args, str(tmp_path / "out"), env={}, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sferum-kpi: error: ") and needle in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_events_lines_are_compact_json_with_the_contract_fields(small: Path) -> None:
    with (small / EVENTS_FILE).open("rb") as handle:
        first = orjson.loads(handle.readline())
    assert first["schema_version"] == 1
    assert set(first) >= {"type", "event_id", "ts", "user_id", "role"}
