"""The federal map as the slides draw it: one tile per subject of the Russian Federation, with a
short code (ОРЛ, МСК), on a fixed grid that keeps neighbours roughly where they are on a map
(north up, west left; the sparse east compressed). Column and row start at 0 at the top left.

A registry region is placed by its name (the usual form, «ё» as «е», case ignored), else by its
id when that is the subject's code (57 for Орловская область); a region that matches neither gets
a tile in a row below the grid, so the map always has one tile per region of the registry.

    tiles = place([("57", "Орловская область"), ("r9", "Тестовый регион")])
    tiles[0].code, tiles[0].col, tiles[0].row   # 'ОРЛ', 4, 6
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Subject:
    number: str  # the subject's code (as on car plates)
    code: str  # three letters on its tile
    name: str
    col: int
    row: int


# fmt: off
SUBJECTS: Final = (
    Subject("51", "МУР", "Мурманская область", 4, 0),
    Subject("83", "НАО", "Ненецкий автономный округ", 10, 0),
    Subject("87", "ЧУК", "Чукотский автономный округ", 17, 0),
    Subject("10", "КАР", "Республика Карелия", 4, 1),
    Subject("29", "АРХ", "Архангельская область", 6, 1),
    Subject("11", "КОМ", "Республика Коми", 10, 1),
    Subject("89", "ЯНА", "Ямало-Ненецкий автономный округ", 12, 1),
    Subject("24", "КРЯ", "Красноярский край", 13, 1),
    Subject("14", "ЯКУ", "Республика Саха (Якутия)", 15, 1),
    Subject("49", "МАГ", "Магаданская область", 16, 1),
    Subject("41", "КАМ", "Камчатский край", 17, 1),
    Subject("78", "СПБ", "Санкт-Петербург", 2, 2),
    Subject("47", "ЛЕН", "Ленинградская область", 3, 2),
    Subject("35", "ВОЛ", "Вологодская область", 6, 2),
    Subject("59", "ПЕР", "Пермский край", 10, 2),
    Subject("86", "ХМА", "Ханты-Мансийский автономный округ — Югра", 12, 2),
    Subject("38", "ИРК", "Иркутская область", 14, 2),
    Subject("28", "АМУ", "Амурская область", 15, 2),
    Subject("27", "ХАБ", "Хабаровский край", 16, 2),
    Subject("65", "САХ", "Сахалинская область", 17, 2),
    Subject("60", "ПСК", "Псковская область", 2, 3),
    Subject("53", "НОВ", "Новгородская область", 3, 3),
    Subject("69", "ТВЕ", "Тверская область", 4, 3),
    Subject("76", "ЯРО", "Ярославская область", 5, 3),
    Subject("37", "ИВА", "Ивановская область", 6, 3),
    Subject("44", "КОС", "Костромская область", 7, 3),
    Subject("12", "МАР", "Республика Марий Эл", 8, 3),
    Subject("43", "КИР", "Кировская область", 9, 3),
    Subject("18", "УДМ", "Удмуртская Республика", 10, 3),
    Subject("66", "СВЕ", "Свердловская область", 11, 3),
    Subject("72", "ТЮМ", "Тюменская область", 12, 3),
    Subject("70", "ТОМ", "Томская область", 13, 3),
    Subject("03", "БУР", "Республика Бурятия", 14, 3),
    Subject("75", "ЗАБ", "Забайкальский край", 15, 3),
    Subject("79", "ЕАО", "Еврейская автономная область", 16, 3),
    Subject("39", "КЛН", "Калининградская область", 0, 4),
    Subject("67", "СМО", "Смоленская область", 3, 4),
    Subject("77", "МСК", "Москва", 4, 4),
    Subject("50", "МОС", "Московская область", 5, 4),
    Subject("33", "ВЛА", "Владимирская область", 6, 4),
    Subject("52", "НИЖ", "Нижегородская область", 7, 4),
    Subject("21", "ЧУВ", "Чувашская Республика", 8, 4),
    Subject("16", "ТАТ", "Республика Татарстан (Татарстан)", 9, 4),
    Subject("02", "БАШ", "Республика Башкортостан", 10, 4),
    Subject("74", "ЧЕЛ", "Челябинская область", 11, 4),
    Subject("45", "КУГ", "Курганская область", 12, 4),
    Subject("54", "НСК", "Новосибирская область", 13, 4),
    Subject("42", "КЕМ", "Кемеровская область — Кузбасс", 14, 4),
    Subject("25", "ПРИ", "Приморский край", 16, 4),
    Subject("32", "БРЯ", "Брянская область", 2, 5),
    Subject("40", "КЛЖ", "Калужская область", 3, 5),
    Subject("71", "ТУЛ", "Тульская область", 4, 5),
    Subject("48", "ЛИП", "Липецкая область", 5, 5),
    Subject("62", "РЯЗ", "Рязанская область", 6, 5),
    Subject("13", "МОР", "Республика Мордовия", 7, 5),
    Subject("73", "УЛЬ", "Ульяновская область", 8, 5),
    Subject("63", "САМ", "Самарская область", 9, 5),
    Subject("56", "ОРБ", "Оренбургская область", 10, 5),
    Subject("55", "ОМС", "Омская область", 12, 5),
    Subject("22", "АЛТ", "Алтайский край", 13, 5),
    Subject("19", "ХАК", "Республика Хакасия", 14, 5),
    Subject("46", "КУР", "Курская область", 3, 6),
    Subject("57", "ОРЛ", "Орловская область", 4, 6),
    Subject("36", "ВОР", "Воронежская область", 5, 6),
    Subject("68", "ТАМ", "Тамбовская область", 6, 6),
    Subject("58", "ПНЗ", "Пензенская область", 7, 6),
    Subject("64", "САР", "Саратовская область", 8, 6),
    Subject("04", "АЛР", "Республика Алтай", 13, 6),
    Subject("17", "ТЫВ", "Республика Тыва", 14, 6),
    Subject("31", "БЕЛ", "Белгородская область", 5, 7),
    Subject("61", "РОС", "Ростовская область", 6, 7),
    Subject("34", "ВГГ", "Волгоградская область", 7, 7),
    Subject("08", "КЛМ", "Республика Калмыкия", 8, 7),
    Subject("92", "СЕВ", "Севастополь", 3, 8),
    Subject("91", "КРЫ", "Республика Крым", 4, 8),
    Subject("23", "КДР", "Краснодарский край", 5, 8),
    Subject("01", "АДЫ", "Республика Адыгея", 6, 8),
    Subject("26", "СТА", "Ставропольский край", 7, 8),
    Subject("30", "АСТ", "Астраханская область", 8, 8),
    Subject("05", "ДАГ", "Республика Дагестан", 9, 8),
    Subject("09", "КЧР", "Карачаево-Черкесская Республика", 5, 9),
    Subject("07", "КБР", "Кабардино-Балкарская Республика", 6, 9),
    Subject("15", "СОА", "Республика Северная Осетия — Алания", 7, 9),
    Subject("06", "ИНГ", "Республика Ингушетия", 8, 9),
    Subject("20", "ЧЕЧ", "Чеченская Республика", 9, 9),
)
# fmt: on
COLUMNS: Final = 1 + max(s.col for s in SUBJECTS)
ROWS: Final = 1 + max(s.row for s in SUBJECTS)
#: other names in use for some subjects
ALIASES: Final = {
    "республика татарстан": "16",
    "республика северная осетия - алания": "15",
    "кемеровская область": "42",
    "ханты-мансийский автономный округ - югра": "86",
    "ханты-мансийский ао - югра": "86",
    "республика саха": "14",
    "город москва": "77",
    "город санкт-петербург": "78",
    "город севастополь": "92",
    "чувашская республика - чувашия": "21",
}


@dataclass(frozen=True)
class Tile:
    region_id: str
    name: str
    code: str
    col: int
    row: int


def _key(name: str) -> str:
    return " ".join(name.casefold().replace("ё", "е").replace("—", "-").replace("–", "-").split())


_BY_NUMBER: Final = {s.number: s for s in SUBJECTS}
_BY_NAME: Final = {_key(s.name): s for s in SUBJECTS} | {alias: _BY_NUMBER[n] for alias, n in ALIASES.items()}


def subject_of(region_id: str, name: str) -> Subject | None:
    """The subject a registry region is, by name, else by id; None if neither is known."""
    return _BY_NAME.get(_key(name)) or _BY_NUMBER.get(region_id.strip())


def place(regions: Iterable[tuple[str, str]]) -> list[Tile]:
    """A tile for each (region_id, name), in the given order. Regions on the grid take their
    subject's place (the first of two regions that are the same subject; the second goes below);
    the others fill rows below the grid, left to right, with a code made from the name."""
    tiles: list[Tile] = []
    used: set[str] = set()
    extra = 0
    for region_id, name in regions:
        subject = subject_of(region_id, name)
        if subject is not None and subject.number not in used:
            used.add(subject.number)
            tiles.append(Tile(region_id, name, subject.code, subject.col, subject.row))
            continue
        col, row = extra % COLUMNS, ROWS + 1 + extra // COLUMNS  # one empty row between
        extra += 1
        tiles.append(Tile(region_id, name, subject.code if subject else _code(name), col, row))
    return tiles


def _code(name: str) -> str:
    letters = [c for c in name if c.isalpha()]
    return "".join(letters[:3]).upper() or "—"
