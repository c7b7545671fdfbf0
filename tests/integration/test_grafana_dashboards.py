"""The Grafana boards (``deploy/grafana/boards/``): the checked-in JSON is what the code
generates, every ClickHouse query of the boards runs on a store with demo data and returns the
columns its panel reads, and every Prometheus query names only metrics that exist.

No Grafana runs here. The ClickHouse queries go through a small expander that does what Grafana
and grafana-clickhouse-datasource do before a query reaches ClickHouse: template variables
(``${region:sqlstring}`` → ``'r2'``, with the values Grafana would select on load: the first
option of each variable query) and the plugin's time macros (``$__fromTime`` →
``toDateTime(<unix seconds>)``, as ``pkg/macros/macros.go`` writes them). Anything else after a
``$`` fails the test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from prometheus_client import CollectorRegistry

from deploy.grafana import boards as grafana_boards
from deploy.grafana.boards.sql import MUNICIPALITY_VARIABLE, REGION_VARIABLE, WEEK_VARIABLE
from sinks.clickhouse import ClickHouseSink
from stream.core.week import WeekCalendar
from stream.worker.kpi_gauges import RegionKpiGauges
from stream.worker.metrics import Metrics
from tests.conftest import run_cli
from tests.support.kpi_dataset import build, write_registry

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
#: the generator, run as ``python -m deploy.grafana.boards`` from the repository root
MODULE = "deploy.grafana.boards"
JSON_DIR = GRAFANA / "provisioning" / "dashboards" / "json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "sferum.rules.yml"
MSK = ZoneInfo("Europe/Moscow")


def checked_in() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(JSON_DIR.glob("*.json"))}


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))  # a collapsed row keeps its panels inside


def uid_of(datasource: Any) -> str | None:
    return datasource.get("uid") if isinstance(datasource, dict) else None


def queries(kind: str) -> list[tuple[str, str]]:
    """(test id, query text) of every ClickHouse (``kind="clickhouse"``) panel target and
    template variable, or of every Prometheus panel target, in the checked-in boards."""
    found = []
    for board in checked_in().values():
        uid = board["uid"]
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query" and uid_of(variable.get("datasource")) == kind:
                query = variable["query"]
                found.append((f"{uid}/var-{variable['name']}", query if isinstance(query, str) else query["rawSql"]))
        for panel in panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                if uid_of(target.get("datasource") or panel.get("datasource")) == kind:
                    text = target["rawSql"] if kind == "clickhouse" else target["expr"]
                    found.append((f"{uid}/panel-{panel['id']}/{target['refId']}", text))
    return found


CLICKHOUSE_QUERIES = queries("clickhouse")
PROMETHEUS_QUERIES = queries("prometheus")


# the JSON is what the code generates -------------------------------------------------------------


def test_checked_in_boards_are_what_the_code_generates(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", MODULE, "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    generated = {path.name: path.read_text(encoding="utf-8") for path in sorted(tmp_path.glob("*.json"))}
    stored = {path.name: path.read_text(encoding="utf-8") for path in sorted(JSON_DIR.glob("*.json"))}
    hint = f"regenerate with: .venv/bin/python -m {MODULE}"
    assert sorted(generated) == sorted(stored) == ["sferum-federal.json", "sferum-ingestion.json", "sferum-region.json"]
    stale = [name for name in generated if generated[name] != stored[name]]
    assert not stale, f"{stale} differ from the code; {hint}"


def test_boards_are_well_formed() -> None:
    boards = checked_in()
    assert len({board["uid"] for board in boards.values()}) == len(boards)
    for name, board in boards.items():
        assert board["timezone"] == "Europe/Moscow", name
        ids = [panel["id"] for panel in panels(board["panels"])]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        for panel in panels(board["panels"]):
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, (name, panel.get("title"))
            if panel["type"] != "row":
                assert panel.get("targets"), (name, panel.get("title"))
    assert len(CLICKHOUSE_QUERIES) > 20 and len(PROMETHEUS_QUERIES) > 15


def test_provisioning_matches_the_boards_and_the_compose_file() -> None:
    (datasources,) = [doc for doc in yaml.safe_load_all(DATASOURCES.read_text(encoding="utf-8"))]
    by_uid = {ds["uid"]: ds for ds in datasources["datasources"]}
    assert by_uid["prometheus"]["type"] == "prometheus"
    assert by_uid["clickhouse"]["type"] == "grafana-clickhouse-datasource"
    assert by_uid["clickhouse"]["jsonData"]["defaultDatabase"] == "sferum"
    used = {
        uid_of(thing.get("datasource"))
        for board in checked_in().values()
        for thing in [*panels(board["panels"]), *board.get("templating", {}).get("list", [])]
        if thing.get("type") != "row"
    }
    assert used == set(by_uid)

    grafana = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["grafana"]
    referenced = set(re.findall(r"\$\{([A-Z_]+)\}", json.dumps(datasources)))  # values, not the comments
    assert referenced == {
        "PROMETHEUS_URL",
        "CLICKHOUSE_HOST",
        "CLICKHOUSE_PORT",
        "CLICKHOUSE_USER",
        "CLICKHOUSE_PASSWORD",
    }
    assert referenced <= set(grafana["environment"])

    mount = next(v for v in grafana["volumes"] if v.startswith("./grafana/provisioning:"))
    container_dir = mount.split(":")[1]
    (providers,) = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))["providers"]
    assert providers["type"] == "file"
    assert providers["options"]["path"] == f"{container_dir}/{JSON_DIR.relative_to(GRAFANA / 'provisioning')}"


# ClickHouse: every query runs and returns its columns ---------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The hand-built dataset (two regions, four weeks) replayed and its registry loaded."""
    registry, lines = build()
    base = tmp_path_factory.mktemp("grafana")
    events = base / "events.ndjson"
    events.write_bytes(b"\n".join(lines) + b"\n")
    dsn = f"chdb://{base / 'store'}"
    replayed = run_cli(
        "replay", "--json", "--store", dsn, "--dead-letter", str(base / "dl.ndjson"), str(events), env={}
    )
    assert replayed.returncode == 0, replayed.stderr
    loaded = run_cli("load-registry", "--store", dsn, str(write_registry(registry, base / "registry")), env={})
    assert loaded.returncode == 0, loaded.stderr
    return dsn


@pytest.fixture(scope="module")
def sink(store: str) -> Iterator[ClickHouseSink]:
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture(scope="module")
def expected_columns() -> dict[str, tuple[str, ...]]:
    """Query text -> the columns its panel reads, as the generator declares them next to each query."""
    return {
        sql.text: sql.columns for board in grafana_boards.boards() for sql in grafana_boards.clickhouse_queries(board)
    }


class Expander:
    """Grafana's variable interpolation and grafana-clickhouse-datasource's macros, for the
    forms the boards use; anything else is an error."""

    VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)")

    def __init__(self, variables: dict[str, str], start: datetime, end: datetime) -> None:
        self.variables = variables
        self.start, self.end = int(start.timestamp()), int(end.timestamp())

    def __call__(self, sql: str) -> str:
        sql = re.sub(r"\$__timeFilter\(([^()]+)\)", self._time_filter, sql)
        sql = re.sub(r"\$__fromTime\b(?!_)", f"toDateTime({self.start})", sql)
        sql = re.sub(r"\$__toTime\b(?!_)", f"toDateTime({self.end})", sql)
        sql = self.VARIABLE.sub(self._variable, sql)
        assert "$" not in sql, f"unexpanded Grafana variable or macro in:\n{sql}"
        return sql

    def _time_filter(self, match: re.Match[str]) -> str:
        column = match.group(1).strip()
        return f"{column} >= toDateTime({self.start}) AND {column} <= toDateTime({self.end})"

    def _variable(self, match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2)
        assert name in self.variables, f"unknown variable ${name}"
        value = self.variables[name]
        if fmt == "sqlstring":  # Grafana: ' doubled, value quoted
            return "'" + value.replace("'", "''") + "'"
        assert fmt is None, f"variable format {fmt!r} is not expanded by this test"
        return value  # the ClickHouse plugin leaves a single value as it is


def first_option(sink: ClickHouseSink, sql: str) -> str:
    """The value Grafana selects on load: the first row's first column (value, text convention)."""
    rows = sink.query_rows(sql)
    assert rows, f"variable query returns nothing:\n{sql}"
    return str(rows[0][0])


@pytest.fixture(scope="module")
def expand(sink: ClickHouseSink) -> Expander:
    variables = {
        "region": first_option(sink, REGION_VARIABLE.text),
        "week": first_option(sink, WEEK_VARIABLE.text),
    }
    weeks = [date.fromisoformat(str(row[0])) for row in sink.query_rows(WEEK_VARIABLE.text)]
    start = datetime.combine(min(weeks), datetime.min.time(), MSK)
    end = datetime.combine(max(weeks) + timedelta(days=7), datetime.min.time(), MSK) - timedelta(seconds=1)
    # the municipalities of the region chosen first (a repeated panel gets one value each)
    variables["municipality"] = first_option(sink, Expander(variables, start, end)(MUNICIPALITY_VARIABLE.text))
    return Expander(variables, start, end)


def test_variable_values_come_from_the_data(expand: Expander) -> None:
    # by name, Курская область (r2) is first; of its municipalities, in ClickHouse's byte order,
    # Курчатовский район (m6), then Льговский район, then г. Курск
    assert (expand.variables["region"], expand.variables["municipality"]) == ("r2", "m6")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", expand.variables["week"])
    assert date.fromisoformat(expand.variables["week"]).weekday() == 0, "weeks are Mondays"


@pytest.mark.parametrize(("where", "sql"), CLICKHOUSE_QUERIES, ids=[where for where, _ in CLICKHOUSE_QUERIES])
def test_clickhouse_query_returns_its_columns(
    where: str, sql: str, sink: ClickHouseSink, expand: Expander, expected_columns: dict[str, tuple[str, ...]]
) -> None:
    assert sql in expected_columns, f"{where}: the generator declares no columns for this query"
    result = sink.client.query(expand(sql))
    assert tuple(result.column_names) == expected_columns[sql], where
    assert len(result.result_rows) >= 1, f"{where} returns no row for {expand.variables}"


def test_expander_fails_on_what_it_does_not_know() -> None:
    expand = Expander({"region": "r1"}, datetime(2026, 9, 7, tzinfo=MSK), datetime(2026, 9, 14, tzinfo=MSK))
    assert expand("x = ${region:sqlstring} AND y = $region") == "x = 'r1' AND y = r1"
    assert expand("$__timeFilter(ts)") == "ts >= toDateTime(1788728400) AND ts <= toDateTime(1789333200)"
    for bad in ("${week:sqlstring}", "${region:csv}", "$__interval_s", "$__timeFilter_ms(ts)"):
        with pytest.raises(AssertionError):
            expand(bad)


# Prometheus: every metric exists -----------------------------------------------------------------

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or"}
PROMQL_WORDS |= {"unless", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: identifiers that are not functions, keywords,
    label names (inside {} or after by/without/on/ignoring/group_*) or parts of numbers."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = re.findall(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()", expr)
    return {name for name in names if name.lower() not in PROMQL_WORDS}


def known_metric_names() -> set[str]:
    """Series names the workers export (from the collectors themselves), the recording rules'
    names, and ``up`` from the scrape."""
    registry = CollectorRegistry()
    Metrics(registry, topics=["sferum.events"])
    registry.register(RegionKpiGauges(WeekCalendar()))
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = {"up"}
    for family in registry.collect():
        names.update(family.name + suffix for suffix in suffixes[family.type])
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    names.update(rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule)
    return names


def test_metric_name_parser() -> None:
    expr = 'histogram_quantile(0.99, sum by (le) (rate(a_bucket{job="x", le!="1"}[$__rate_interval])))'
    assert metric_names(expr) == {"a_bucket"}
    assert metric_names('time() - b_seconds{job="x"} > 5e3 and on (job) c:d:e offset 5m') == {"b_seconds", "c:d:e"}
    assert {"sferum_events_consumed_total", "sferum_flush_duration_seconds_bucket", "sferum_kpi_teachers"} <= (
        known_metric_names()
    )


@pytest.mark.parametrize(("where", "expr"), PROMETHEUS_QUERIES, ids=[where for where, _ in PROMETHEUS_QUERIES])
def test_prometheus_query_uses_existing_metrics(where: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, f"{where}: no metric in {expr!r}"
    unknown = names - known_metric_names()
    assert not unknown, f"{where}: {sorted(unknown)} are neither exported by the workers nor recorded by the rules"


def test_prometheus_queries_parse(tmp_path: Path) -> None:
    """promtool has no command for a bare expression, but `check rules` parses every rule's
    PromQL: the board queries are checked as recording rules ($__rate_interval as 5m)."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not found: install the Debian package 'prometheus' (see deploy/README.md)", pytrace=False)
    records = []
    for i, (where, expr) in enumerate(PROMETHEUS_QUERIES):
        expr = expr.replace("$__rate_interval", "5m")
        assert "$" not in expr, f"{where}: a Grafana variable this check does not replace: {expr!r}"
        records.append({"record": f"grafana_board:query_{i}:check", "expr": expr})
    path = tmp_path / "board-queries.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "board-queries", "rules": records}]}), encoding="utf-8")
    result = subprocess.run([exe, "check", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def test_region_board_repeats_a_trend_chart_per_municipality() -> None:
    board = checked_in()["sferum-region.json"]
    variable = next(v for v in board["templating"]["list"] if v["name"] == "municipality")
    assert variable["multi"] and variable["includeAll"] and variable["current"]["value"] == ["$__all"]
    repeated = [p for p in panels(board["panels"]) if p.get("repeat") == "municipality"]
    assert len(repeated) == 1 and repeated[0]["type"] == "timeseries"
    assert "${municipality:sqlstring}" in repeated[0]["targets"][0]["rawSql"]
    trends = [p for p in panels(board["panels"]) if p.get("title") == "Показатели по неделям"]
    assert len(trends) == 1
    overrides = {o["matcher"]["options"]: o["properties"] for o in trends[0]["fieldConfig"]["overrides"]}
    assert sorted(overrides) == ["a", "active", "b", "c", "d"]
    targets = {
        key: [step["value"] for prop in props if prop["id"] == "thresholds" for step in prop["value"]["steps"]]
        for key, props in overrides.items()
    }
    assert targets == {"a": [None, 0.35], "b": [None, 0.25], "c": [None, 0.3], "d": [None, 0.3], "active": []}


def test_federal_board_colours_region_tiles_by_the_bands(sink: ClickHouseSink, expand: Expander) -> None:
    board = checked_in()["sferum-federal.json"]
    (tiles,) = [p for p in panels(board["panels"]) if p.get("type") == "stat"]
    steps = tiles["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(step["value"], step["color"]) for step in steps] == [(None, "red"), (0.01, "orange"), (0.05, "green")]
    rows = sink.query_rows(expand(tiles["targets"][0]["rawSql"]))
    # kpi_dataset's regions by name: Курская область (КУР), Орловская область (ОРЛ)
    assert [row[0] for row in rows] == ["КУР", "ОРЛ"]
