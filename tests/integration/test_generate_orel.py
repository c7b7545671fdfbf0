"""``generate --profile orel``, replayed and loaded into the embedded store, shows the slides'
Орловская область in its last week, whatever that week is: an ordinary school week and a week of
the autumn holidays (26 October – 1 November 2026: every weekday a holiday, teachers write a
third as much). In ``kpi_unit_week`` and in ``report --format json``: the region's totals and a and
b exactly, the three lists of municipalities exactly by name, and each municipality's share within
1 percentage point of the slides' level lists (and in the same list).

The figures are written out here by hand from the regional centre's slides, in their own
spelling ("Орел", "Залогощенский район", the truncated "Новодеревеньковский рай"), not taken
from the generator. The teachers' level list is of all the municipality's registry teachers
(the slide's Орёл 28 %), the region's headline 35.1 % of the registered ones. The period is
given (``--last-week``): the test does not depend on today's date.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sinks.clickhouse import ClickHouseSink
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

# "Доля школ в ИКОП «СФЕРУМ»": active schools / registered schools, %
SCHOOLS = {
    "low": {
        "Знаменский район": 27, "Новодеревеньковский район": 27, "Шаблыкинский район": 27, "Свердловский район": 25,
        "Хотынецкий район": 25, "Малоархангельский район": 20, "Сосковский район": 20, "Залегощенский район": 19,
        "Верховский район": 18, "Новосильский район": 17, "Глазуновский район": 14, "Колпнянский район": 14,
        "Покровский район": 12, "Дмитровский район": 11, "Троснянский район": 11, "Мценский район": 8,
        "Урицкий район": 8, "Кромской район": 6, "Краснозоренский район": 0,
    },
    "sufficient": {"Орловский район": 50, "Ливенский район": 45, "Корсаковский район": 40},
    "high": {"Мценск": 100, "Болховский район": 85, "Орел": 84, "Ливны": 78, "Должанский район": 73},
}  # fmt: skip
# "Доля педагогов в ИКОП «СФЕРУМ»": active teachers / all the registry's teachers, %
TEACHERS = {
    "low": {
        "Новодеревеньковский рай": 29, "Орел": 28, "Корсаковский район": 28, "Ливны": 27, "Шаблыкинский район": 24,
        "Хотынецкий район": 19, "Ливенский район": 19, "Орловский район": 18, "Колпнянский район": 12,
        "Свердловский район": 12, "Знаменский район": 10, "Покровский район": 8, "Глазуновский район": 8,
        "Малоархангельский район": 7, "Верховский район": 5, "Залегощенский район": 5, "Урицкий район": 4,
        "Дмитровский район": 4, "Новосильский район": 3, "Троснянский район": 2, "Кромской район": 2,
        "Мценский район": 2, "Краснозоренский район": 0,
    },
    "sufficient": {"Мценск": 50, "Сосковский район": 40},
    "high": {"Должанский район": 77, "Болховский район": 76},
}  # fmt: skip
# "Доля учеников в ИКОП «СФЕРУМ»": registered students / all students, %
STUDENTS = {
    "low": {
        "Ливны": 30, "Залогощенский район": 24, "Краснозоренский район": 24, "Новосильский район": 22,
        "Колпнянский район": 21, "Покровский район": 20, "Урицкий район": 15, "Верховский район": 13,
        "Кромской район": 12, "Знаменский район": 7, "Дмитровский район": 4,
    },
    "sufficient": {
        "Новодеревеньковский район": 64, "Корсаковский район": 60, "Свердловский район": 56,
        "Шаблыкинский район": 54, "Троснянский район": 53, "Малоархангельский район": 47, "Мценский район": 43,
        "Глазуновский район": 41, "Орел": 39, "Орловский район": 35, "Ливенский район": 34, "Хотынецкий район": 33,
    },
    "high": {"Сосковский район": 83, "Мценск": 80, "Должанский район": 73, "Болховский район": 72},
}  # fmt: skip
ABSENT = {"Знаменский"}  # "Отсутствуют в ИКОП «Сферум»"
NO_REGISTRATIONS = {  # "Отсутствуют регистрации"
    "Верховский", "Глазуновский", "Дмитровский", "Колпнянский", "Мценский", "Новодеревеньковский", "Новосильский",
    "Сосковский", "Урицкий",
}  # fmt: skip
ACTIVE = {
    "Болховский", "Корсаковский", "Краснозоренский", "Ливенский", "Ливны", "Мценск", "Орловский", "Покровский",
    "Свердловский", "Троснянский", "Шаблыкинский",
}  # fmt: skip


def _name(seed_name: str) -> str:
    """The registry's name of a municipality as the seed spells it."""
    name = seed_name.replace("Орел", "Орёл").replace("Залогощенский", "Залегощенский")
    return "Новодеревеньковский район" if name.startswith("Новодеревеньковский") else name


def _short(name: str) -> str:
    return name.removesuffix(" район")


def _level(share: float) -> str:
    return "low" if share < 0.30 else "high" if share > 0.70 else "sufficient"


#: The slides' region: "Всего / В ИКОП «Сферум» / Активных" of municipalities, schools, teachers,
#: students; a (40,2 %) and weekly b (6,5 %), one decimal as the slides print them
TOTALS = {
    "municipalities_total": 27, "municipalities_registered": 26, "municipalities_active": 11,
    "schools_total": 347, "schools_registered": 325, "schools_active": 141,
    "teachers_total": 7628, "teachers_registered": 5438, "active_teachers": 1909,
    "students_total": 75264, "students_registered": 29505,
}  # fmt: skip
SHARES_PCT = {
    "municipalities_registered_share": 96.3, "municipalities_active_share": 42.3, "schools_registered_share": 93.7,
    "schools_active_share": 43.4, "teachers_registered_share": 71.3, "active_share": 35.1,
    "students_registered_share": 39.2, "a_share": 40.2, "b_share": 6.5,
}  # fmt: skip
#: an ordinary school week, and the autumn holidays
WEEKS = {"school": "2026-11-16", "holidays": "2026-10-26"}


@pytest.fixture(scope="module", params=sorted(WEEKS))
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """``generate --profile orel --last-week …``, replayed, its registry loaded: (env, directory)."""
    base = tmp_path_factory.mktemp(f"orel-{request.param}")
    env = {"SFERUM_STORE": f"chdb://{base / 'store'}"}
    generated = run_cli(
        "generate", "--profile", "orel", "--last-week", WEEKS[request.param], str(base / "out"), env=env
    )
    assert generated.returncode == 0, generated.stderr
    replayed = run_cli(
        "replay", "--json", "--dead-letter", str(base / "dl.ndjson"), str(base / "out" / "events.ndjson"), env=env
    )
    assert replayed.returncode == 0, replayed.stderr
    assert orjson.loads(replayed.stdout)["rejected"] == 0, replayed.stdout
    loaded = run_cli("load-registry", str(base / "out" / "registry"), env=env)
    assert loaded.returncode == 0, loaded.stderr
    return env, base


@pytest.fixture(scope="module")
def last_week(generated: tuple[dict, Path]) -> dict[str, dict]:
    """The region's and the municipalities' rows of the last week, by name."""
    env, _ = generated
    sink = ClickHouseSink(dsn=env["SFERUM_STORE"], database="sferum")
    try:
        result = sink.client.query(
            "SELECT * FROM sferum.kpi_unit_week WHERE unit_kind IN ('region', 'municipality') "
            "AND week_start = (SELECT max(week_start) FROM sferum.kpi_unit_week)"
        )
        rows = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    finally:
        sink.close()
    assert len(rows) == 28
    return {row["unit_name"]: row for row in rows}


@pytest.fixture(scope="module")
def report_json(generated: tuple[dict, Path]) -> dict:
    env, _ = generated
    result = run_cli("report", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return dict(orjson.loads(result.stdout))


def test_the_last_week_is_the_one_asked_for(generated: tuple[dict, Path], last_week: dict[str, dict]) -> None:
    weeks = {str(row["week_start"]) for row in last_week.values()}
    assert weeks <= set(WEEKS.values()) and len(weeks) == 1


def test_region_row_of_the_last_week_shows_the_seed_totals(last_week: dict[str, dict]) -> None:
    region = last_week["Орловская область"]
    assert {k: region[k] for k in TOTALS} == TOTALS
    assert {k: round(region[k] * 100, 1) for k in SHARES_PCT} == SHARES_PCT


@pytest.mark.parametrize(
    ("lists", "column"),
    [(SCHOOLS, "schools_active_share"), (TEACHERS, "active_share_of_total"), (STUDENTS, "students_registered_share")],
    ids=["schools_active", "teachers_active_of_all", "students_registered"],
)
def test_municipality_shares_are_within_1_pp_of_the_seed_and_in_its_level_list(
    last_week: dict[str, dict], lists: dict[str, dict[str, int]], column: str
) -> None:
    listed = {name for level in lists.values() for name in level}
    assert {_name(n) for n in listed} == {n for n in last_week if n != "Орловская область"}, "all 27, by name"
    wrong = []
    for level, municipalities in lists.items():
        for seed_name, percent in municipalities.items():
            value = last_week[_name(seed_name)][column]
            if abs(value * 100 - percent) > 1 or _level(value) != level:
                wrong.append((seed_name, percent, level, round(value * 100, 2)))
    assert not wrong


def test_the_three_municipality_lists_are_the_seeds(last_week: dict[str, dict]) -> None:
    municipalities = {_short(n): r for n, r in last_week.items() if n != "Орловская область"}
    lists = {
        name: {n for n, r in municipalities.items() if r["municipality_list"] == name}
        for name in ("absent", "no_staff_registered", "active")
    }
    assert lists == {"absent": ABSENT, "no_staff_registered": NO_REGISTRATIONS, "active": ACTIVE}
    assert last_week["Орловская область"]["municipalities_no_staff_registered"] == 9


def test_report_json_holds_the_slides(report_json: dict) -> None:
    """The keys of docs/report.md, against the slides' values written out above."""
    region = report_json["region"]
    assert (region["name"], region["code"]) == ("Орловская область", "ОРЛ")
    tallies = {
        "municipalities": (27, 26, 11), "schools": (347, 325, 141), "teachers": (7628, 5438, 1909),
    }  # fmt: skip
    for key, (total, registered, active) in tallies.items():
        assert (region[key]["total"], region[key]["registered"], region[key]["active"]) == (total, registered, active)
    assert (region["students"]["total"], region["students"]["registered"]) == (75264, 29505)
    assert round(region["teachers"]["active_share"] * 100, 1) == 35.1
    indicators = region["indicators"]
    assert round(indicators["a"]["share"] * 100, 1) == 40.2 and round(indicators["b"]["share"] * 100, 1) == 6.5
    assert indicators["b"]["teachers_registered"] == 5438
    assert region["municipality_lists"] == {
        "absent": [f"{n} район" for n in sorted(ABSENT)],
        "no_staff_registered": [f"{n} район" for n in sorted(NO_REGISTRATIONS)],
        "active": sorted(f"{n} район" if n not in ("Ливны", "Мценск") else n for n in ACTIVE),
    }
    for key, lists in (("schools", SCHOOLS), ("teachers", TEACHERS), ("students", STUDENTS)):
        got = region["level_lists"][key]
        for level, municipalities in lists.items():
            shares = {m["name"]: m["share"] for m in got[level]}
            assert set(shares) == {_name(n) for n in municipalities}, (key, level)
            for seed_name, percent in municipalities.items():
                assert abs(shares[_name(seed_name)] * 100 - percent) <= 1, (key, seed_name)
    assert (region["level_lists"]["teachers"]["numerator"], region["level_lists"]["teachers"]["denominator"]) == (
        "active_teachers", "teachers_total",
    )  # fmt: skip
    assert len(region["trends"]["weeks"]) == 8 and len(region["trends"]["municipalities"]) == 27
    assert round(region["trends"]["region"]["b"][-1] * 100, 1) == 6.5
    assert [(r["rank"], r["code"], round(r["b_share"] * 100, 1), r["band"]) for r in report_json["ranking"]] == [
        (1, "ОРЛ", 6.5, "5-100%")
    ]
