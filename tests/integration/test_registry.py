"""``load-registry`` on the embedded engine: validation names file and line, loads are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from sinks.clickhouse import ClickHouseSink
from tests.conftest import run_cli

GOOD = {
    "regions.csv": "region_id,name\nR1,Орловская область\nR2,Тамбовская область\n",
    "municipalities.csv": "municipality_id,region_id,name\nM1,R1,Орёл\nM2,R1,Ливны\nM3,R2,Тамбов\n",
    "schools.csv": "school_id,municipality_id,name\nS1,M1,Школа 1\nS2,M1,Школа 2\nS3,M2,Школа 3\nS4,M3,Школа 4\n",
    "teachers.csv": "teacher_id,school_id\nT1,S1\nT1,S2\nT2,S2\nT3,S3\nT4,S4\n",
    "students.csv": "student_id,school_id,birth_date\nP1,S1,2012-05-01\nP2,S3,2009-01-31\n",
    "staff.csv": "staff_id,municipality_id\nA1,M1\nA2,M1\nA3,M3\n",
}


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def _teachers(store: str) -> list[tuple[str, str]]:
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:
        rows = sink.query_rows(
            "SELECT teacher_id, school_id FROM sferum.registry_teachers "
            "WHERE snapshot = (SELECT max(snapshot) FROM sferum.registry_snapshots) ORDER BY teacher_id, school_id"
        )
        return [(r[0], r[1]) for r in rows]
    finally:
        sink.close()


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("teachers.csv", "teacher_id,school_id\nT1,S1\nT9,S9\n", "teachers.csv:3: unknown school_id 'S9'"),
        (
            "schools.csv",
            "school_id,municipality_id,name\nS1,M1,a\nS2,M1,b\nS1,M2,c\n",
            "schools.csv:4: duplicate school_id",
        ),
        ("students.csv", "student_id,school_id,birth_date\nP1,S1,2012-13-01\n", "students.csv:2: birth_date"),
        ("regions.csv", "id,name\nR1,x\n", "regions.csv:1: header is id,name"),
        ("municipalities.csv", "municipality_id,region_id,name\nM1,R1\n", "municipalities.csv:2: 2 fields"),
        (
            "teachers.csv",
            "teacher_id,school_id\nT1,S1\nT1,S1\n",
            "teachers.csv:3: duplicate teacher_id 'T1', school_id",
        ),
        ("regions.csv", "region_id,name\n,x\n", "regions.csv:2: empty region_id"),
        ("staff.csv", "staff_id,municipality_id\nA1,M1\nA2,M9\n", "staff.csv:3: unknown municipality_id 'M9'"),
        ("staff.csv", "staff_id,municipality_id\nA1,M1\nA1,M2\n", "staff.csv:3: duplicate staff_id 'A1'"),
        ("staff.csv", "staff_id,municipality\nA1,M1\n", "staff.csv:1: header is staff_id,municipality"),
    ],
)
def test_bad_registry_names_file_and_line_and_loads_nothing(tmp_path: Path, file: str, text: str, message: str) -> None:
    store = f"chdb://{tmp_path / 'store'}"
    events = tmp_path / "events.ndjson"  # one teacher's message: the indicators get rows
    events.write_text(
        '{"schema_version":1,"type":"message_sent","event_id":"e1","ts":1790000000000,"user_id":"T1",'
        '"role":"teacher","chat_id":"c","chat_kind":"group"}\n'
    )
    assert run_cli("replay", "--dead-letter", "/dev/null", str(events), env={"SFERUM_STORE": store}).returncode == 0
    assert run_cli("load-registry", str(_write(tmp_path / "good", GOOD)), env={"SFERUM_STORE": store}).returncode == 0
    before, counts = _teachers(store), _counts(store)
    assert counts["registry_teachers"] > 0 and counts["kpi_unit_week_data"] > 0
    bad = _write(tmp_path / "bad", GOOD | {file: text})
    result = run_cli("load-registry", str(bad), env={"SFERUM_STORE": store})
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _teachers(store) == before  # the previous snapshot is still the one in force
    assert _counts(store) == counts  # and the failed one left no row anywhere


#: Every table a registry load writes.
LOADED_TABLES = (
    "registry_regions",
    "registry_municipalities",
    "registry_schools",
    "registry_teachers",
    "registry_students",
    "registry_staff",
    "registry_snapshots",
    "kpi_unit_week_data",
)


def _counts(store: str) -> dict[str, int]:
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:
        return {table: int(sink.query_rows(f"SELECT count() FROM sferum.{table}")[0][0]) for table in LOADED_TABLES}
    finally:
        sink.close()


def test_new_registry_replaces_the_previous_snapshot(tmp_path: Path) -> None:
    store = f"chdb://{tmp_path / 'store'}"
    assert run_cli("load-registry", str(_write(tmp_path / "one", GOOD)), env={"SFERUM_STORE": store}).returncode == 0
    second = GOOD | {"teachers.csv": "teacher_id,school_id\nT5,S1\n"}
    done = run_cli("load-registry", str(_write(tmp_path / "two", second)), env={"SFERUM_STORE": store})
    assert done.returncode == 0, done.stderr
    assert _teachers(store) == [("T5", "S1")]
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:  # older snapshots are dropped, not just hidden
        assert sink.query_rows("SELECT count() FROM sferum.registry_teachers")[0][0] == 1
    finally:
        sink.close()


def _staff(store: str) -> list[tuple[str, str]]:
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:
        rows = sink.query_rows(
            "SELECT staff_id, municipality_id FROM sferum.registry_staff "
            "WHERE snapshot = (SELECT max(snapshot) FROM sferum.registry_snapshots) ORDER BY staff_id"
        )
        return [(r[0], r[1]) for r in rows]
    finally:
        sink.close()


def test_staff_file_is_loaded_and_may_be_absent(tmp_path: Path) -> None:
    store = f"chdb://{tmp_path / 'store'}"
    done = run_cli("load-registry", str(_write(tmp_path / "with", GOOD)), env={"SFERUM_STORE": store})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(", 3 staff"), done.stdout
    assert _staff(store) == [("A1", "M1"), ("A2", "M1"), ("A3", "M3")]
    # an export made before staff.csv existed: loads, with no staff
    without = {name: text for name, text in GOOD.items() if name != "staff.csv"}
    done = run_cli("load-registry", str(_write(tmp_path / "without", without)), env={"SFERUM_STORE": store})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(", 0 staff"), done.stdout
    assert _staff(store) == []


def test_staff_path_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    store = f"chdb://{tmp_path / 'store'}"
    directory = _write(tmp_path / "reg", {n: t for n, t in GOOD.items() if n != "staff.csv"})
    (directory / "staff.csv").mkdir()
    result = run_cli("load-registry", str(directory), env={"SFERUM_STORE": store})
    assert result.returncode == 2 and "staff.csv: not a regular file" in result.stderr, result.stderr
