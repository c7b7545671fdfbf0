"""Bad arguments and settings: one line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli


def _one_line_error(result, code: int) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sferum-kpi: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "env", "code", "needle"),
    [
        (["replay", "/no/such/file.ndjson"], {}, 2, "no such file"),
        (["replay", "--store", "foo", "/dev/null"], {}, 2, "store must be chdb"),
        (["replay", "--store", "chdb://relative/path", "/dev/null"], {}, 2, "absolute path"),
        (["sql", "SELECT 1"], {"SFERUM_DATABASE": "drop table"}, 2, "SFERUM_DATABASE"),
        (["sql", "SELECT 1"], {"SFERUM_TIMEZONE": "Mars/Olympus"}, 2, "SFERUM_TIMEZONE"),
        (["sql", "SELECT 1"], {"SFERUM_PARTITIONS": "zero"}, 2, "SFERUM_PARTITIONS"),
        (["worker", "--broker", "not a broker"], {}, 2, "SFERUM_BROKER"),
        (["worker"], {"SFERUM_INPUT_TOPICS": "a,sferum.dead-letter"}, 2, "dead-letter"),
        (["--log-level", "loud", "sql", "SELECT 1"], {}, 2, "log level"),
        (["--log-tag", "w%s", "sql", "SELECT 1"], {}, 2, "a log tag is 1 to 64 letters"),
        (["schema", "--cluster", "a-b"], {}, 2, "bad cluster name 'a-b'"),
        (["access-sql", "--cluster", "x;y"], {}, 2, "bad cluster name"),
        (
            ["sql", "SELECT 1"],
            {"SFERUM_STORE_CLUSTER": "main"},
            2,
            "SFERUM_STORE_CLUSTER applies to a ClickHouse server",
        ),
        (
            ["sql", "SELECT 1"],
            {"SFERUM_STORE": "http://h:8123", "SFERUM_STORE_CLUSTER": "a b"},
            2,
            "SFERUM_STORE_CLUSTER",
        ),
        (["worker", "--processes", "2"], {}, 2, "2 processes cannot share one embedded store"),
        (["worker", "--processes", "4", "--store", "chdb:///tmp/s"], {}, 2, "cannot share one embedded store"),
        (["worker"], {"SFERUM_PROCESSES": "3", "SFERUM_STORE": "chdb:///tmp/s"}, 2, "cannot share one embedded"),
        (["worker", "--processes", "0"], {}, 2, "SFERUM_PROCESSES"),
        (["worker", "--processes", "-2"], {}, 2, "SFERUM_PROCESSES"),
        (["worker"], {"SFERUM_PROCESSES": "many"}, 2, "SFERUM_PROCESSES"),
        (["worker", "--processes", "5", "--store", "http://127.0.0.1:1"], {}, 2, "more than the 4 partitions"),
        (["worker", "--broker", "127.0.0.1:1"], {}, 1, "cannot reach the Kafka broker"),
        (["produce", "--broker", "127.0.0.1:1", "/dev/null"], {}, 1, "cannot reach the Kafka broker"),
    ],
)
def test_bad_input_gets_one_line_and_an_exit_code(args, env, code, needle, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*args, env={"SFERUM_DATA_DIR": str(tmp_path)} | env, timeout=120)
    assert needle in _one_line_error(result, code)


def test_sql_error_from_clickhouse_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sql", "SELECT * FROM no_such_table", env={"SFERUM_STORE": f"chdb://{tmp_path}/s"})
    assert "UNKNOWN_TABLE" in _one_line_error(result, 1)


def test_sql_prints_in_the_requested_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sql", "--format", "CSV", "SELECT 1 AS a, 'x' AS b", env={"SFERUM_STORE": f"chdb://{tmp_path}/s"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == '1,"x"\n'


def test_schema_prints_every_statement_of_the_ddl(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sinks.clickhouse import schema_statements

    single = run_cli("schema", env={"SFERUM_DATA_DIR": str(tmp_path)})
    assert single.returncode == 0, single.stderr
    assert single.stdout == "\n".join(f"{s};\n" for s in schema_statements("sferum"))
    # the cluster from the flag, or from SFERUM_STORE_CLUSTER (with a server store)
    flag = run_cli("schema", "--cluster", "main", env={"SFERUM_DATA_DIR": str(tmp_path)})
    env = run_cli("schema", env={"SFERUM_STORE": "http://h:8123", "SFERUM_STORE_CLUSTER": "main"})
    assert flag.returncode == env.returncode == 0, flag.stderr + env.stderr
    assert flag.stdout == env.stdout == "\n".join(f"{s};\n" for s in schema_statements("sferum", cluster="main"))
    assert (
        "CREATE TABLE IF NOT EXISTS sferum.teacher_week ON CLUSTER main AS sferum.teacher_week_local\n" in flag.stdout
    )
