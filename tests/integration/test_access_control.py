"""Least privilege on the embedded engine, as far as it goes (docs/security.md, "Readers"):

* chDB's default user refuses ``CREATE ROLE`` (ACCESS_DENIED), and even with a users file that
  allows access management it has no writable storage for SQL-defined roles, users and row
  policies: so every statement of ``sferum-kpi access-sql`` is parsed by the engine here
  (``formatQuery``), not executed;
* each row policy's condition, run as a plain ``WHERE`` on a demo store (replay + load-registry),
  keeps exactly its region's rows, checked against the registry and the oracle;
* the engine does enforce the same conditions as the row filters of a users file: a process whose
  account has only ``SELECT`` on the database and the region's filters sees, in every table, the
  rows the ``WHERE`` keeps, only its region in every view, and cannot insert or create.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from sinks.access import base_statements, region_predicates, region_statements, tables
from sinks.clickhouse import ClickHouseSink
from tests.conftest import ROOT, run_cli
from tests.support.eventgen import GenConfig, generate
from tests.support.gen_registry import registry_for
from tests.support.kpi_dataset import write_registry
from tests.support.kpi_oracle import kpi_unit_week
from tests.support.oracle import Expected, expected

pytestmark = pytest.mark.integration
CONFIG = GenConfig(events=20_000, weeks=4, seed=77)
READER_REGION = "r1"


class Demo:
    def __init__(self, base: Path) -> None:
        self.lines = generate(CONFIG)
        self.truth: Expected = expected(self.lines, now_ms=int(time.time() * 1000))
        self.registry = registry_for(CONFIG)
        self.path = base / "store"
        self.store = f"chdb://{self.path}"
        (base / "events.ndjson").write_bytes(b"\n".join(self.lines) + b"\n")
        write_registry(self.registry, base / "registry")
        env = {"SFERUM_STORE": self.store}
        loaded = run_cli("load-registry", str(base / "registry"), env=env)
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        replayed = run_cli("replay", "--dead-letter", str(base / "dl.ndjson"), str(base / "events.ndjson"), env=env)
        assert replayed.returncode == 0, replayed.stderr[-3000:]
        # the regional account reads the store in a process of its own, before this one opens it
        users = users_file(base / "users.xml", READER_REGION)
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.region_reader", str(self.path), str(users)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        self.seen_by_reader = json.loads(done.stdout)

    def rows(self, name: str) -> list[list[str]]:
        return self.registry[name][1:]

    def region(self, region_id: str) -> dict[str, set[str]]:
        """The ids of one region, from the registry rows (not from the store)."""
        munis = {m for m, r, _ in self.rows("municipalities") if r == region_id}
        schools = {s for s, m, _ in self.rows("schools") if m in munis}
        return {
            "municipalities": munis,
            "schools": schools,
            "teachers": {t for t, s in self.rows("teachers") if s in schools},
            "students": {st for st, s, _ in self.rows("students") if s in schools},
        }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return Demo(tmp_path_factory.mktemp("access"))


@pytest.fixture(scope="module")
def sink(demo: Demo) -> Iterator[ClickHouseSink]:
    sink = ClickHouseSink(dsn=demo.store, database="sferum")
    yield sink
    sink.close()


REGIONS = ("r1", "r2", "r3")


def test_every_statement_is_parsed_by_the_engine(sink: ClickHouseSink) -> None:
    statements = base_statements("sferum") + [s for r in REGIONS for s in region_statements("sferum", r, ["analyst"])]
    assert len(statements) > 30
    for statement in statements:
        formatted = str(sink.query_rows("SELECT formatQuery({q:String})", {"q": statement})[0][0])
        assert formatted.split()[:2] == statement.split()[:2], statement


def test_the_embedded_default_user_may_not_create_access_entities(sink: ClickHouseSink) -> None:
    for statement in base_statements("sferum")[:1] + region_statements("sferum", "r1")[2:3]:
        with pytest.raises(Exception, match="ACCESS_DENIED"):  # noqa: B017 - the driver's own error type
            sink.client.command(statement)


def test_the_policies_cover_every_table_of_the_store(sink: ClickHouseSink) -> None:
    stored = {
        str(r[0])
        for r in sink.query_rows("SELECT name FROM system.tables WHERE database = 'sferum' AND engine != 'View'")
    }
    assert stored == set(tables("sferum"))


def distinct(sink: ClickHouseSink, sql: str) -> set[Any]:
    return {tuple(r) if len(r) > 1 else r[0] for r in sink.query_rows(sql)}


@pytest.mark.parametrize("region_id", REGIONS)
def test_each_condition_as_a_where_keeps_exactly_its_regions_rows(
    demo: Demo, sink: ClickHouseSink, region_id: str
) -> None:
    where = region_predicates("sferum", region_id)
    mine = demo.region(region_id)
    truth = demo.truth

    def kept(table: str, columns: str) -> set[Any]:
        return distinct(sink, f"SELECT DISTINCT {columns} FROM sferum.{table} WHERE {where[table]}")

    assert kept("registry_regions", "region_id") == {region_id}
    assert kept("registry_municipalities", "municipality_id") == mine["municipalities"]
    assert kept("registry_schools", "school_id") == mine["schools"]
    assert kept("registry_teachers", "teacher_id, school_id") == {
        (t, s) for t, s in demo.rows("teachers") if s in mine["schools"]
    }
    assert kept("registry_students", "student_id") == mine["students"]
    assert kept("teacher_week", "week_start, teacher_id") == {k for k in truth.teacher_week if k[1] in mine["teachers"]}
    assert kept("staff_week", "week_start, user_id") == {k for k in truth.staff_week if k[1] in mine["municipalities"]}
    of_role = {"teacher": "teachers", "student": "students", "school": "schools", "municipality": "municipalities"}
    assert kept("registrations", "role, user_id, event_id") == {
        (role, user, event)
        for role, user, _, _, event in truth.registrations
        if role in of_role and user in mine[of_role[role]]
    }
    assert kept("kpi_unit_week_data", "region_id") <= {region_id}
    if region_id != "r3":  # r3 has no events: its rows still show, with zeros
        assert kept("teacher_week", "teacher_id")


def users_file(path: Path, region_id: str) -> Path:
    """The regional account as the embedded engine takes it: SELECT on the database only, and the
    region's conditions as row filters."""
    filters = "".join(
        f"<{table}><filter>{escape(condition)}</filter></{table}>"
        for table, condition in region_predicates("sferum", region_id).items()
    )
    path.write_text(
        "<clickhouse><profiles><default/></profiles><quotas><default/></quotas><users><default>"
        "<password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota>"
        "<grants><query>GRANT SELECT ON sferum.*</query></grants>"
        f"<databases><sferum>{filters}</sferum></databases></default></users></clickhouse>",
        encoding="utf-8",
    )
    return path


def test_the_engine_shows_a_regional_account_only_its_region(demo: Demo, sink: ClickHouseSink) -> None:
    region_id = READER_REGION
    seen = demo.seen_by_reader
    assert seen["grants"] == [["GRANT SELECT ON sferum.* TO default"]]
    where = region_predicates("sferum", region_id)
    for table in tables("sferum"):
        want = int(sink.query_rows(f"SELECT count() FROM sferum.{table} WHERE {where[table]}")[0][0])
        total = int(sink.query_rows(f"SELECT count() FROM sferum.{table}")[0][0])
        assert seen["counts"][table] == want, table
        if table != "registry_snapshots" and total:
            assert want < total, table  # the filter did remove other regions' rows
    views = {name: regions for name, regions in seen["regions"].items()}
    assert {"kpi_unit_week", "kpi_shares", "kpi_levels", "kpi_dynamics", "kpi_region_ranking"} <= set(views)
    assert all(regions == [region_id] for regions in views.values()), views
    # the view's rows: the oracle's units of the region, every week
    truth = demo.truth
    oracle = kpi_unit_week(demo.registry, truth.teacher_week, truth.registrations, truth.staff_week)
    mine = demo.region(region_id)
    units = {("region", region_id)} | {("municipality", m) for m in mine["municipalities"]}
    units |= {("school", s) for s in mine["schools"]}
    assert seen["counts"]["kpi_unit_week"] == sum(1 for (_, kind, unit) in oracle if (kind, unit) in units)
    assert seen["insert"] == {"error": "ACCESS_DENIED"} and seen["create"] == {"error": "ACCESS_DENIED"}
