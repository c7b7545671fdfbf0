"""The schema on a ClickHouse cluster (``sinks/cluster.py``, docs/cluster.md).

No ClickHouse server or Keeper runs here: every statement of the cluster DDL is parsed by the
embedded engine (``formatQuery`` parses a statement without executing it), and a few statements
are checked against what is written out here by hand. The single-node DDL is checked to be the
files' statements as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from sinks.access import base_statements, region_statements
from sinks.clickhouse import current_snapshot_sql, open_client, schema_statements
from sinks.cluster import (
    SESSION_SETTINGS,
    SHARDED,
    ClusterDDLError,
    cluster_statement,
    cluster_statements,
    partition_drop,
)
from sinks.kpi_status import SNAPSHOT_STATE_TABLES, WORK_TABLES
from sinks.sql_shared import shared_sql

SQL_DIR = Path(__file__).resolve().parents[2] / "sinks" / "sql"
CLUSTER = "sferum_cluster"
ON = f" ON CLUSTER {CLUSTER}"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    client = open_client(f"chdb://{tmp_path_factory.mktemp('parse')}")
    yield client
    client.close()


def parsed(engine: Client, statement: str) -> str:
    """The statement as the engine's parser formats it; a syntax error raises."""
    return str(engine.query("SELECT formatQuery({q:String})", parameters={"q": statement}).result_rows[0][0])


@pytest.fixture(scope="module")
def ddl() -> list[str]:
    return schema_statements("sferum", cluster=CLUSTER)


@pytest.fixture(scope="module")
def formatted(engine: Client, ddl: list[str]) -> list[str]:
    return [parsed(engine, statement) for statement in ddl]


def _created(statements: list[str], name: str) -> str:
    found = [s for s in statements if re.search(rf"^CREATE TABLE IF NOT EXISTS sferum\.{name} ", s, re.M)]
    assert len(found) == 1, name
    return found[0]


def test_the_parser_refuses_what_is_not_sql(engine: Client) -> None:
    """So that the parse below says something: a statement cut short does not parse."""
    with pytest.raises(Exception, match="SYNTAX_ERROR|Syntax error"):
        parsed(engine, "CREATE TABLE sferum.t ON CLUSTER c (a String) ENGINE = ReplicatedMergeTree(")


def test_every_statement_of_the_cluster_ddl_parses_and_runs_on_the_cluster(formatted: list[str]) -> None:
    assert len(formatted) > 30
    for text in formatted:
        assert f"ON CLUSTER {CLUSTER}" in text, text[:200]


def test_no_table_keeps_a_single_node_engine(formatted: list[str]) -> None:
    engines = [m.group(1) for text in formatted for m in re.finditer(r"ENGINE = (\w+)", text)]
    assert engines and all(e.startswith("Replicated") or e == "Distributed" for e in engines), engines
    assert "ReplicatedReplacingMergeTree" in engines and "ReplicatedMergeTree" in engines


def test_teacher_week_is_a_distributed_table_sharded_by_teacher_over_a_replicated_local_table(ddl: list[str]) -> None:
    assert _created(ddl, "teacher_week") == (
        "CREATE TABLE IF NOT EXISTS sferum.teacher_week ON CLUSTER sferum_cluster AS sferum.teacher_week_local\n"
        "ENGINE = Distributed(sferum_cluster, sferum, teacher_week_local, cityHash64(teacher_id))"
    )
    local = _created(ddl, "teacher_week_local")
    assert local.startswith("-- Per-teacher weekly counters")  # the file's comment stays with it
    assert "CREATE TABLE IF NOT EXISTS sferum.teacher_week_local ON CLUSTER sferum_cluster\n(" in local
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)\n"
        "PARTITION BY toYYYYMM(week_start)\n"
        "ORDER BY (week_start, teacher_id)\n"
        "SETTINGS replicated_deduplication_window = 0"
    ) in local
    # the local table comes first: the Distributed one is made AS it
    assert ddl.index(local) + 1 == ddl.index(_created(ddl, "teacher_week"))


def test_the_engines_own_arguments_follow_the_keeper_path_and_replica(ddl: list[str]) -> None:
    path = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
    assert f"ENGINE = ReplicatedReplacingMergeTree({path}, computed_at)" in _created(ddl, "kpi_unit_week_data_local")
    assert (  # no version column: none after the replica
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')\n"
        in _created(ddl, "registrations_local")
    )
    assert _created(ddl, "kpi_unit_week_data").endswith(
        "ENGINE = Distributed(sferum_cluster, sferum, kpi_unit_week_data_local, cityHash64(unit_id))"
    )


def test_the_registry_is_one_replica_set_over_every_host_under_its_own_name(ddl: list[str]) -> None:
    teachers = _created(ddl, "registry_teachers")
    assert teachers.startswith("CREATE TABLE IF NOT EXISTS sferum.registry_teachers ON CLUSTER sferum_cluster\n(")
    assert (
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}_{replica}') "
        "PARTITION BY snapshot ORDER BY (school_id, teacher_id)\nSETTINGS replicated_deduplication_window = 0"
    ) in teachers
    assert not any("registry_teachers_local" in s or "Distributed" in s and "registry_" in s for s in ddl)


def test_the_tables_made_are_the_single_node_ones_plus_a_local_table_for_each_sharded_one(ddl: list[str]) -> None:
    single = set(re.findall(r"^CREATE TABLE IF NOT EXISTS sferum\.(\w+)", "\n".join(schema_statements("sferum")), re.M))
    made = set(re.findall(r"^CREATE TABLE IF NOT EXISTS sferum\.(\w+)", "\n".join(ddl), re.M))
    assert set(SHARDED) <= single  # a renamed table would otherwise silently stop being sharded
    assert made == single | {f"{t}_local" for t in SHARDED}
    distributed = {
        m.group(1) for s in ddl if (m := re.search(r"sferum\.(\w+) ON CLUSTER \S+ AS .*\nENGINE = Distributed", s))
    }
    assert distributed == set(SHARDED)


def test_a_sharded_tables_sharding_column_is_in_its_sorting_key(engine: Client, ddl: list[str]) -> None:
    """All versions of one sorting key (what FINAL merges, per shard) land on one shard."""
    for table, key in SHARDED.items():
        column = re.fullmatch(r"cityHash64\((\w+)\)", key)
        assert column is not None, key
        local = parsed(engine, _created(ddl, f"{table}_local"))
        order_by = re.search(r"^ORDER BY \(?([^)\n]*)\)?$", local, re.M)
        assert order_by is not None, table
        assert column.group(1) in [c.strip() for c in order_by.group(1).split(",")], (table, order_by.group(1))


def test_views_are_the_single_node_views_made_on_the_cluster(ddl: list[str]) -> None:
    """They read the same names, now Distributed tables: kpi_unit_week and the board views too."""
    views = [s for s in schema_statements("sferum") if re.search(r"^CREATE OR REPLACE VIEW", s, re.M)]
    names = [re.search(r"VIEW (sferum\.\w+)", s).group(1) for s in views]  # type: ignore[union-attr]
    assert {"sferum.kpi_unit_week", "sferum.kpi_shares", "sferum.kpi_dynamics", "sferum.kpi_region_ranking"} <= set(
        names
    )
    for view, name in zip(views, names, strict=True):
        assert view.replace(f"VIEW {name} AS", f"VIEW {name}{ON} AS", 1) in ddl, name


def test_run_time_partition_drops() -> None:
    assert partition_drop("sferum", "kpi_unit_week_data", 7, "") == (
        "ALTER TABLE sferum.kpi_unit_week_data DROP PARTITION 7"
    )
    assert partition_drop("sferum", "kpi_unit_week_data", 7, CLUSTER) == (
        "ALTER TABLE sferum.kpi_unit_week_data_local ON CLUSTER sferum_cluster DROP PARTITION 7"
    )
    # a replicated table on every host: the drop replicates as issued
    assert partition_drop("sferum", "registry_teachers", 7, CLUSTER) == (
        "ALTER TABLE sferum.registry_teachers DROP PARTITION 7"
    )


def test_the_partitions_sinks_kpi_status_drops_by_name_are_of_tables_on_every_host() -> None:
    """kpi_status issues ``ALTER TABLE <name> DROP PARTITION`` itself: right on a cluster only
    while these tables are not sharded (their names are not Distributed tables)."""
    assert not set(WORK_TABLES) & set(SHARDED)
    assert not set(SNAPSHOT_STATE_TABLES) & set(SHARDED)


def test_the_session_settings_and_the_table_setting_are_known_to_the_engine(engine: Client) -> None:
    names = engine.query(
        "SELECT name FROM system.settings WHERE name IN {n:Array(String)}", parameters={"n": list(SESSION_SETTINGS)}
    )
    assert {r[0] for r in names.result_rows} == {"distributed_foreground_insert", "prefer_global_in_and_join"}
    window = engine.query(
        "SELECT count() FROM system.merge_tree_settings WHERE name = 'replicated_deduplication_window'"
    )
    assert window.result_rows[0][0] == 1


def test_access_sql_on_a_cluster_parses_and_covers_the_local_tables(engine: Client) -> None:
    statements = base_statements("sferum", CLUSTER) + region_statements("sferum", "57", ["analyst_57"], CLUSTER)
    for statement in statements:
        assert f"ON CLUSTER {CLUSTER}" in parsed(engine, statement), statement
    assert "sferum.teacher_week_local" in statements[6] and "sferum.registry_teachers_local" not in statements[6]
    policies = [s for s in statements if "sferum_region_57 ON CLUSTER sferum_cluster ON sferum.teacher_week" in s]
    assert [p.split(" USING ")[1] for p in policies][0] == [p.split(" USING ")[1] for p in policies][1]
    assert statements[-1] == "ALTER USER analyst_57 ON CLUSTER sferum_cluster DEFAULT ROLE ALL"


@pytest.mark.parametrize(
    ("statement", "needle"),
    [
        ("RENAME TABLE sferum.a TO sferum.b", "no cluster form"),
        ("CREATE TABLE IF NOT EXISTS sferum.m (a UInt8) ENGINE = Memory", "engine Memory"),
        ("CREATE TABLE IF NOT EXISTS other.t (a UInt8) ENGINE = MergeTree ORDER BY a", "database sferum"),
        ("CREATE MATERIALIZED VIEW sferum.v ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a", "engine of its own"),
    ],
)
def test_a_statement_it_does_not_know_is_refused(statement: str, needle: str) -> None:
    with pytest.raises(ClusterDDLError, match=needle):
        cluster_statement(statement, "sferum", CLUSTER)


def test_a_table_with_settings_of_its_own_keeps_them_and_gains_the_replicated_one() -> None:
    statement = (
        "CREATE TABLE IF NOT EXISTS sferum.t (a UInt8) ENGINE = MergeTree ORDER BY a\nSETTINGS index_granularity = 256"
    )
    assert cluster_statement(statement, "sferum", CLUSTER) == [
        "CREATE TABLE IF NOT EXISTS sferum.t ON CLUSTER sferum_cluster (a UInt8) "
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}_{replica}') ORDER BY a\n"
        "SETTINGS index_granularity = 256, replicated_deduplication_window = 0"
    ]


def test_a_cluster_name_that_is_not_an_identifier_is_refused() -> None:
    for bad in ("", "a-b", "c; DROP TABLE x", "1c"):
        with pytest.raises(ClusterDDLError, match="bad cluster name"):
            cluster_statements(["CREATE DATABASE IF NOT EXISTS sferum"], "sferum", bad)


def _with_shared_sql(text: str) -> str:
    for placeholder, sql in shared_sql().items():
        text = text.replace(placeholder, sql)
    return text


def test_without_a_cluster_the_ddl_is_the_files_statements_as_they_are() -> None:
    statements = schema_statements("sferum")
    assert schema_statements("sferum", cluster="") == statements
    text = "".join(
        _with_shared_sql(f.read_text(encoding="utf-8"))
        .replace("{db}", "sferum")
        .replace("{tz}", "Europe/Moscow")
        .replace("{current_snapshot}", current_snapshot_sql("sferum"))
        .replace("{level_low}", "0.3")
        .replace("{level_high}", "0.7")
        .replace("{a_group_chats}", "1")
        .replace("{b_group_messages}", "3")
        .replace("{c_chat_messages}", "10")
        .replace("{d_calls}", "1")
        .replace("{active_group_chats}", "1")
        .replace("{active_group_messages}", "3")
        for f in sorted(SQL_DIR.glob("*.sql"))
    )
    at = 0
    for statement in statements:  # each verbatim, in order; between them only `;`, blanks, comments
        found = text.index(statement, at)
        assert _only_separators(text[at:found]), text[at:found][:200]
        at = found + len(statement)
    assert _only_separators(text[at:])


def _only_separators(chunk: str) -> bool:
    return all(not line.strip() or line.strip() == ";" or line.strip().startswith("--") for line in chunk.splitlines())


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "DROP TABLE IF EXISTS sferum.teacher_week",
            [
                "DROP TABLE IF EXISTS sferum.teacher_week ON CLUSTER sferum_cluster",
                "DROP TABLE IF EXISTS sferum.teacher_week_local ON CLUSTER sferum_cluster",
            ],
        ),
        ("TRUNCATE TABLE sferum.teacher_week", ["TRUNCATE TABLE sferum.teacher_week_local ON CLUSTER sferum_cluster"]),
        ("DROP VIEW IF EXISTS sferum.kpi_shares", ["DROP VIEW IF EXISTS sferum.kpi_shares ON CLUSTER sferum_cluster"]),
        (
            "ALTER TABLE sferum.kpi_unit_week_data DELETE WHERE snapshot = 1",
            ["ALTER TABLE sferum.kpi_unit_week_data_local ON CLUSTER sferum_cluster DELETE WHERE snapshot = 1"],
        ),
        (  # a column change of a sharded table: its Distributed table has the same columns
            "ALTER TABLE sferum.kpi_unit_week_data ADD COLUMN IF NOT EXISTS municipality_list Nullable(String)",
            [
                "ALTER TABLE sferum.kpi_unit_week_data_local ON CLUSTER sferum_cluster "
                "ADD COLUMN IF NOT EXISTS municipality_list Nullable(String)",
                "ALTER TABLE sferum.kpi_unit_week_data ON CLUSTER sferum_cluster "
                "ADD COLUMN IF NOT EXISTS municipality_list Nullable(String)",
            ],
        ),
        (
            "ALTER TABLE sferum.registry_staff DROP PARTITION 2",
            ["ALTER TABLE sferum.registry_staff ON CLUSTER sferum_cluster DROP PARTITION 2"],
        ),
        (
            "-- one\nCREATE FUNCTION sferum_share AS (n, d) -> if(d = 0, 0., n / d)",
            ["-- one\nCREATE FUNCTION sferum_share ON CLUSTER sferum_cluster AS (n, d) -> if(d = 0, 0., n / d)"],
        ),
    ],
)
def test_other_statement_forms(engine: Client, statement: str, expected: list[str]) -> None:
    assert cluster_statement(statement, "sferum", CLUSTER) == expected
    for text in expected:
        assert f"ON CLUSTER {CLUSTER}" in parsed(engine, text)
