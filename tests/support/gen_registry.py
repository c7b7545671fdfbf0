"""A registry (CSV rows, header first, by file stem) for the users of ``tests.support.eventgen``,
so that ``kpi_unit_week`` of a generated event set is meaningful: most of its teachers, schools,
municipalities and students are registry units, with the cases that matter for the indicators.

It knows nothing of the code under test; it only follows the ids ``eventgen`` writes
(teachers ``t00000``, schools ``sch0000``, municipalities ``mun000``, students ``s00000``).

- regions ``r1`` and ``r2`` share the generated municipalities; ``r3`` has one municipality
  ``mun900`` with one school ``sch9000``, none of them in the events (a region at 0 %);
- school ``i`` is in municipality ``i % municipalities``; teacher ``i`` in school ``i % schools``,
  every 7th teacher also in a second school (often of another municipality: counted once per
  unit), every 50th teacher missing from the registry (its activity counts for no unit);
- one registry teacher and one student per region ``r3`` have no event at all;
- student ``i`` in school ``i % schools`` (birth dates vary, unused by the indicators);
- with ``municipality_accounts``, ``staff.csv`` lists each municipality's staff account, whose id
  is the municipality's (``mun000``), and a second account ``stf000`` that never acts.
"""

from __future__ import annotations

from tests.support.eventgen import GenConfig

Registry = dict[str, list[list[str]]]


def registry_for(cfg: GenConfig) -> Registry:
    n_schools = cfg.teachers // 15
    n_munis = cfg.teachers // 150 + 1
    munis = [f"mun{i:03d}" for i in range(n_munis)]
    schools = [f"sch{i:04d}" for i in range(n_schools)]
    regions = [["region_id", "name"], ["r1", "Регион 1"], ["r2", "Регион 2"], ["r3", "Регион без событий"]]
    municipalities = [["municipality_id", "region_id", "name"]]
    municipalities += [[m, "r1" if i % 3 else "r2", f"Муниципалитет {i}"] for i, m in enumerate(munis)]
    municipalities.append(["mun900", "r3", "Муниципалитет без событий"])
    school_rows = [["school_id", "municipality_id", "name"]]
    school_rows += [[s, munis[i % n_munis], f"Школа № {i}"] for i, s in enumerate(schools)]
    school_rows.append(["sch9000", "mun900", "Школа без событий"])
    teachers = [["teacher_id", "school_id"]]
    for i in range(cfg.teachers):
        if i % 50 == 49:
            continue  # active in the events, absent from the registry
        teachers.append([f"t{i:05d}", schools[i % n_schools]])
        other = (i * 13 + 5) % n_schools
        if i % 7 == 3 and other != i % n_schools:
            teachers.append([f"t{i:05d}", schools[other]])
    teachers.append(["tz0000", "sch9000"])
    students = [["student_id", "school_id", "birth_date"]]
    students += [
        [f"s{i:05d}", schools[i % n_schools], f"{2008 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d}"]
        for i in range(cfg.teachers // 2)
    ]
    students.append(["sz0000", "sch9000", "2012-05-05"])
    registry = {
        "regions": regions,
        "municipalities": municipalities,
        "schools": school_rows,
        "teachers": teachers,
        "students": students,
    }
    if cfg.municipality_accounts:
        staff = [["staff_id", "municipality_id"]]
        for m in munis:
            staff += [[m, m], [m.replace("mun", "stf"), m]]
        registry["staff"] = staff
    return registry
