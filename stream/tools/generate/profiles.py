"""What each profile generates: the slides' Орловская область, and the regions of the other profiles.

The Орловская область figures are transcribed from the regional centre's slides («Доля ... в
ИКОП СФЕРУМ»). Populations (thousands) only size the units plausibly: a city has
fewer, bigger schools per inhabitant than a rural district; they are rough, not statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Level = Literal["low", "sufficient", "high"]
#: What the seed says of a municipality itself, which acts through the staff of its education
#: authority: not on the platform ("Отсутствуют в ИКОП"), registered with none of its staff
#: registered ("Отсутствуют регистрации"), registered with registered staff who are not active, or
#: active ("Активные": its registered staff together created a group chat and wrote 3 messages).
Status = Literal["absent", "no_staff", "staff", "active"]


@dataclass(frozen=True)
class SeedShare:
    """A share from the seed's lists: whole percent and the level list it appears in."""

    percent: int
    level: Level


@dataclass(frozen=True)
class SeedMunicipality:
    name: str
    city: bool
    population_k: float
    status: Status
    schools_active: SeedShare  # active schools / registered schools
    teachers_active: SeedShare  # active teachers / all teachers (see README of the generator)
    students_registered: SeedShare  # registered students / all students


@dataclass(frozen=True)
class SeedRegion:
    region_id: str
    name: str
    municipalities: tuple[SeedMunicipality, ...]
    municipalities_registered: int
    municipalities_active: int
    schools_total: int
    schools_registered: int
    schools_active: int
    teachers_total: int
    teachers_registered: int
    teachers_active: int
    students_total: int
    students_registered: int
    b_share: float  # weekly b of the region in the seed's week, met exactly in the last generated week
    a_share: float  # a of the region in the seed's week, met exactly in the last generated week


def _m(
    name: str, city: bool, pop: float, status: Status, schools: tuple[int, Level], teachers: tuple[int, Level],
    students: tuple[int, Level],
) -> SeedMunicipality:  # fmt: skip
    return SeedMunicipality(name, city, pop, status, SeedShare(*schools), SeedShare(*teachers), SeedShare(*students))


L: Final = "low"
S: Final = "sufficient"
H: Final = "high"

#: The 24 districts (alphabetical), then the cities Орёл, Ливны, Мценск: ids 57-01 … 57-27.
OREL: Final = SeedRegion(
    region_id="57",
    name="Орловская область",
    municipalities=(
        _m("Болховский район", False, 17.0, "active", (85, H), (76, H), (72, H)),
        _m("Верховский район", False, 14.5, "no_staff", (18, L), (5, L), (13, L)),
        _m("Глазуновский район", False, 11.0, "no_staff", (14, L), (8, L), (41, S)),
        _m("Дмитровский район", False, 11.5, "no_staff", (11, L), (4, L), (4, L)),
        _m("Должанский район", False, 9.5, "staff", (73, H), (77, H), (73, H)),
        _m("Залегощенский район", False, 12.5, "staff", (19, L), (5, L), (24, L)),
        _m("Знаменский район", False, 4.5, "absent", (27, L), (10, L), (7, L)),
        _m("Колпнянский район", False, 11.5, "no_staff", (14, L), (12, L), (21, L)),
        _m("Корсаковский район", False, 3.5, "active", (40, S), (28, L), (60, S)),
        _m("Краснозоренский район", False, 4.5, "active", (0, L), (0, L), (24, L)),
        _m("Кромской район", False, 17.0, "staff", (6, L), (2, L), (12, L)),
        _m("Ливенский район", False, 29.0, "active", (45, S), (19, L), (34, S)),
        _m("Малоархангельский район", False, 10.0, "staff", (20, L), (7, L), (47, S)),
        _m("Мценский район", False, 19.0, "no_staff", (8, L), (2, L), (43, S)),
        _m("Новодеревеньковский район", False, 10.0, "no_staff", (27, L), (29, L), (64, S)),
        _m("Новосильский район", False, 7.5, "no_staff", (17, L), (3, L), (22, L)),
        _m("Орловский район", False, 75.0, "active", (50, S), (18, L), (35, S)),
        _m("Покровский район", False, 11.5, "active", (12, L), (8, L), (20, L)),
        _m("Свердловский район", False, 12.0, "active", (25, L), (12, L), (56, S)),
        _m("Сосковский район", False, 5.0, "no_staff", (20, L), (40, S), (83, H)),
        _m("Троснянский район", False, 8.5, "active", (11, L), (2, L), (53, S)),
        _m("Урицкий район", False, 17.0, "no_staff", (8, L), (4, L), (15, L)),
        _m("Хотынецкий район", False, 8.0, "staff", (25, L), (19, L), (33, S)),
        _m("Шаблыкинский район", False, 6.0, "active", (27, L), (24, L), (54, S)),
        _m("Орёл", True, 300.0, "staff", (84, H), (28, L), (39, S)),
        _m("Ливны", True, 46.0, "active", (78, H), (27, L), (30, L)),
        _m("Мценск", True, 38.0, "active", (100, H), (50, S), (80, H)),
    ),
    municipalities_registered=26,
    municipalities_active=11,
    schools_total=347,
    schools_registered=325,
    schools_active=141,
    teachers_total=7628,
    teachers_registered=5438,
    teachers_active=1909,
    students_total=75264,
    students_registered=29505,
    # the slides: weekly b 6,5 % (the region's «ОРЛ» on the b slide), a 40,2 % (the a slide's example)
    b_share=0.065,
    a_share=0.402,
)


@dataclass(frozen=True)
class RegionSize:
    """A region of the synthetic profiles: code, name, population (millions), weekly b to aim at."""

    region_id: str
    name: str
    population_m: float
    b_share: float | None  # None: drawn


#: The 85 subjects of the Russian Federation (codes of the car plates / OKATO order). Weekly b is
#: the seed's where it names the region (the top 7 and the regions at 0 %), else drawn.
FEDERAL_REGIONS: Final = (
    RegionSize("01", "Республика Адыгея", 0.50, None),
    RegionSize("02", "Республика Башкортостан", 4.0, 0.0),
    RegionSize("03", "Республика Бурятия", 0.97, None),
    RegionSize("04", "Республика Алтай", 0.21, None),
    RegionSize("05", "Республика Дагестан", 3.2, None),
    RegionSize("06", "Республика Ингушетия", 0.51, None),
    RegionSize("07", "Кабардино-Балкарская Республика", 0.90, None),
    RegionSize("08", "Республика Калмыкия", 0.26, None),
    RegionSize("09", "Карачаево-Черкесская Республика", 0.47, None),
    RegionSize("10", "Республика Карелия", 0.53, 0.0),
    RegionSize("11", "Республика Коми", 0.73, None),
    RegionSize("12", "Республика Марий Эл", 0.67, None),
    RegionSize("13", "Республика Мордовия", 0.78, None),
    RegionSize("14", "Республика Саха (Якутия)", 1.0, None),
    RegionSize("15", "Республика Северная Осетия — Алания", 0.68, None),
    RegionSize("16", "Республика Татарстан (Татарстан)", 4.0, 0.34),
    RegionSize("17", "Республика Тыва", 0.34, None),
    RegionSize("18", "Удмуртская Республика", 1.45, None),
    RegionSize("19", "Республика Хакасия", 0.53, 0.0),
    RegionSize("20", "Чеченская Республика", 1.53, 0.0),
    RegionSize("21", "Чувашская Республика", 1.17, None),
    RegionSize("22", "Алтайский край", 2.13, 0.0),
    RegionSize("23", "Краснодарский край", 5.8, None),
    RegionSize("24", "Красноярский край", 2.84, None),
    RegionSize("25", "Приморский край", 1.82, 0.0),
    RegionSize("26", "Ставропольский край", 2.9, 0.0),
    RegionSize("27", "Хабаровский край", 1.28, None),
    RegionSize("28", "Амурская область", 0.76, None),
    RegionSize("29", "Архангельская область", 0.98, 0.0),
    RegionSize("30", "Астраханская область", 0.95, None),
    RegionSize("31", "Белгородская область", 1.53, 0.29),
    RegionSize("32", "Брянская область", 1.16, None),
    RegionSize("33", "Владимирская область", 1.33, None),
    RegionSize("34", "Волгоградская область", 2.45, None),
    RegionSize("35", "Вологодская область", 1.13, 0.16),
    RegionSize("36", "Воронежская область", 2.3, None),
    RegionSize("37", "Ивановская область", 0.91, 0.0),
    RegionSize("38", "Иркутская область", 2.34, None),
    RegionSize("39", "Калининградская область", 1.03, None),
    RegionSize("40", "Калужская область", 1.07, None),
    RegionSize("41", "Камчатский край", 0.29, None),
    RegionSize("42", "Кемеровская область — Кузбасс", 2.57, None),
    RegionSize("43", "Кировская область", 1.13, None),
    RegionSize("44", "Костромская область", 0.57, None),
    RegionSize("45", "Курганская область", 0.76, None),
    RegionSize("46", "Курская область", 1.08, None),
    RegionSize("47", "Ленинградская область", 2.03, None),
    RegionSize("48", "Липецкая область", 1.12, None),
    RegionSize("49", "Магаданская область", 0.13, None),
    RegionSize("50", "Московская область", 8.6, 0.16),
    RegionSize("51", "Мурманская область", 0.66, 0.0),
    RegionSize("52", "Нижегородская область", 3.1, None),
    RegionSize("53", "Новгородская область", 0.58, None),
    RegionSize("54", "Новосибирская область", 2.8, 0.0),
    RegionSize("55", "Омская область", 1.83, 0.0),
    RegionSize("56", "Оренбургская область", 1.84, None),
    RegionSize("57", "Орловская область", 0.70, 0.065),
    RegionSize("58", "Пензенская область", 1.24, None),
    RegionSize("59", "Пермский край", 2.5, 0.0),
    RegionSize("60", "Псковская область", 0.59, None),
    RegionSize("61", "Ростовская область", 4.16, None),
    RegionSize("62", "Рязанская область", 1.08, None),
    RegionSize("63", "Самарская область", 3.1, None),
    RegionSize("64", "Саратовская область", 2.4, None),
    RegionSize("65", "Сахалинская область", 0.46, None),
    RegionSize("66", "Свердловская область", 4.24, None),
    RegionSize("67", "Смоленская область", 0.88, 0.0),
    RegionSize("68", "Тамбовская область", 0.96, 0.19),
    RegionSize("69", "Тверская область", 1.2, None),
    RegionSize("70", "Томская область", 1.05, None),
    RegionSize("71", "Тульская область", 1.5, None),
    RegionSize("72", "Тюменская область", 1.6, None),
    RegionSize("73", "Ульяновская область", 1.18, 0.24),
    RegionSize("74", "Челябинская область", 3.4, None),
    RegionSize("75", "Забайкальский край", 1.0, None),
    RegionSize("76", "Ярославская область", 1.2, None),
    RegionSize("77", "Москва", 13.1, 0.0),
    RegionSize("78", "Санкт-Петербург", 5.6, None),
    RegionSize("79", "Еврейская автономная область", 0.15, None),
    RegionSize("83", "Ненецкий автономный округ", 0.04, None),
    RegionSize("86", "Ханты-Мансийский автономный округ — Югра", 1.73, 0.19),
    RegionSize("87", "Чукотский автономный округ", 0.05, 0.0),
    RegionSize("89", "Ямало-Ненецкий автономный округ", 0.51, None),
    RegionSize("91", "Республика Крым", 1.9, 0.0),
    RegionSize("92", "Севастополь", 0.55, None),
)
FEDERAL_TEACHERS: Final = 1_100_000
FEDERAL_STUDENTS_PER_TEACHER: Final = 10.0  # realistic is ~15; kept lower so the files stay modest

#: The small profile: three real regions at a fraction of their size, a few thousand teachers.
SMALL_REGIONS: Final = (
    RegionSize("04", "Республика Алтай", 0.21, 0.12),
    RegionSize("49", "Магаданская область", 0.13, 0.05),
    RegionSize("83", "Ненецкий автономный округ", 0.04, 0.0),
)
SMALL_TEACHERS: Final = 2_600
SMALL_STUDENTS_PER_TEACHER: Final = 8.0

#: Village adjectives for school names, and for the names of synthetic districts.
PLACE_NAMES: Final = (
    "Александровская", "Алексеевская", "Берёзовская", "Богородицкая", "Борисовская", "Васильевская",
    "Верхнепольская", "Владимировская", "Воскресенская", "Гремяченская", "Даниловская", "Дубровская",
    "Егорьевская", "Знаменская", "Ивановская", "Казанская", "Калиновская", "Каменская", "Красносельская",
    "Кузьминская", "Липовская", "Михайловская", "Никольская", "Новопетровская", "Озёрская", "Ольховская",
    "Петровская", "Покровская", "Преображенская", "Пятницкая", "Речицкая", "Рождественская", "Сергиевская",
    "Слободская", "Сосновская", "Спасская", "Становлянская", "Троицкая", "Успенская", "Хитровская",
    "Ясеневская", "Яблоновская",
)  # fmt: skip


def masculine(adjective: str) -> str:
    """«Покровская» -> «Покровский» (for district names)."""
    return adjective[:-2] + "ий"
