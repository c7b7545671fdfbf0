"""The least-privilege SQL that the compose file's ClickHouse runs at its first start is what
``sferum-kpi access-sql`` prints now (regenerate and diff), and Grafana logs in as the read-only
account it makes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from sinks.access import AccessError, region_statements

ROOT = Path(__file__).resolve().parents[2]
INITDB = ROOT / "deploy" / "clickhouse" / "initdb"


def test_the_initdb_sql_is_what_access_sql_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "stream", "access-sql"], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    stored = "".join(
        line + "\n"
        for line in (INITDB / "05-sferum-access.sql").read_text(encoding="utf-8").splitlines()
        if not line.startswith("--")
    )
    assert stored == printed, (
        "run: sferum-kpi access-sql > deploy/clickhouse/initdb/05-sferum-access.sql (keep the header)"
    )


def test_grafana_reads_as_the_read_only_account_the_init_script_makes() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]["environment"]
    assert grafana["CLICKHOUSE_USER"] == "sferum_grafana"
    accounts = (INITDB / "10-sferum-accounts.sh").read_text(encoding="utf-8")
    assert (
        "CREATE USER IF NOT EXISTS sferum_grafana" in accounts and "GRANT sferum_reader TO sferum_grafana" in accounts
    )
    assert "./clickhouse/initdb:/docker-entrypoint-initdb.d:ro" in compose["services"]["clickhouse"]["volumes"]


def test_a_region_id_that_could_break_out_of_the_sql_is_refused() -> None:
    for bad in ("r1' OR 1=1 --", "r 1", "", "x" * 65):
        try:
            region_statements("sferum", bad)
        except AccessError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_access_sql_with_an_account_grants_the_region_role() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "stream", "access-sql", "--region", "57", "--account", "analyst_57"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    assert "CREATE ROW POLICY IF NOT EXISTS sferum_region_57 ON sferum.teacher_week" in printed
    assert printed.rstrip().endswith("GRANT sferum_region_57 TO analyst_57;\nSET DEFAULT ROLE ALL TO analyst_57;")
