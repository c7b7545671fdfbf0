"""The federal map's fixed grid (``stream.tools.report.regions``): every subject on its own cell with its
own code, found by name or by number, and one tile per registry region whatever its ids."""

from __future__ import annotations

from stream.tools.generate.profiles import FEDERAL_REGIONS
from stream.tools.report.regions import COLUMNS, ROWS, SUBJECTS, place, subject_of


def test_the_grid_has_85_subjects_each_on_its_own_cell_with_its_own_code() -> None:
    assert len(SUBJECTS) == 85
    assert len({(s.col, s.row) for s in SUBJECTS}) == 85
    assert len({s.code for s in SUBJECTS}) == 85 and len({s.number for s in SUBJECTS}) == 85
    assert all(len(s.code) == 3 and s.code.isupper() for s in SUBJECTS)
    assert (COLUMNS, ROWS) == (18, 10)


def test_subjects_are_found_by_name_or_by_number() -> None:
    by_hand = {
        ("57", "Орловская область"): "ОРЛ",
        ("r1", "Орловская область"): "ОРЛ",  # the name, whatever the id
        ("57", "Some other name"): "ОРЛ",  # the number, when the name is unknown
        ("x", "  республика  татарстан "): "ТАТ",  # case, spaces and the short form
        ("x", "Кемеровская область - Кузбасс"): "КЕМ",  # a hyphen for the dash
        ("x", "город Москва"): "МСК",
    }
    assert {key: getattr(subject_of(*key), "code", None) for key in by_hand} == by_hand
    assert subject_of("r9", "Тестовый регион") is None


def test_every_federal_region_of_the_generator_has_its_cell() -> None:
    tiles = place((r.region_id, r.name) for r in FEDERAL_REGIONS)
    assert len(tiles) == 85 and len({(t.col, t.row) for t in tiles}) == 85
    assert all(t.row < ROWS for t in tiles), "none below the grid"


def test_unknown_and_repeated_regions_get_tiles_below_the_grid() -> None:
    tiles = place([("57", "Орловская область"), ("r9", "Тестовый регион"), ("orel-2", "Орловская область")])
    assert [(t.region_id, t.code, t.col, t.row) for t in tiles] == [
        ("57", "ОРЛ", 4, 6),
        ("r9", "ТЕС", 0, ROWS + 1),
        ("orel-2", "ОРЛ", 1, ROWS + 1),
    ]
