"""``sferum.kpi_unit_week`` equals an independent computation, for every unit, week and column,
on a hand-built dataset of edge cases (``tests/support/kpi_dataset.py`` lists them)."""

from __future__ import annotations

import math

import pytest

from sinks.clickhouse import ClickHouseSink
from tests.conftest import run_cli
from tests.support.kpi_dataset import NOW_MS, build, write_registry
from tests.support.kpi_oracle import COLUMNS, kpi_unit_week
from tests.support.oracle import expected


@pytest.fixture(scope="module")
def view_and_truth(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    registry, lines = build()
    base = tmp_path_factory.mktemp("kpi")
    events = base / "events.ndjson"
    events.write_bytes(b"\n".join(lines) + b"\n")
    env = {"SFERUM_STORE": f"chdb://{base / 'store'}"}
    replayed = run_cli("replay", "--json", "--dead-letter", str(base / "dl.ndjson"), str(events), env=env)
    assert replayed.returncode == 0, replayed.stderr
    loaded = run_cli("load-registry", str(write_registry(registry, base / "registry")), env=env)
    assert loaded.returncode == 0, loaded.stderr
    sink = ClickHouseSink(dsn=env["SFERUM_STORE"], database="sferum")
    try:
        result = sink.client.query("SELECT * FROM sferum.kpi_unit_week")
        rows = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    finally:
        sink.close()
    view = {(r["week_start"], r["unit_kind"], r["unit_id"]): r for r in rows}
    assert len(view) == len(rows), "one row per (week_start, unit_kind, unit_id)"
    truth_events = expected(lines, now_ms=NOW_MS)
    truth = kpi_unit_week(registry, truth_events.teacher_week, truth_events.registrations)
    return view, truth


def test_view_has_a_row_for_every_unit_and_week(view_and_truth: tuple[dict, dict]) -> None:
    view, truth = view_and_truth
    assert sorted(view) == sorted(truth)


@pytest.mark.parametrize("column", COLUMNS)
def test_view_column_matches_independent_computation(view_and_truth: tuple[dict, dict], column: str) -> None:
    view, truth = view_and_truth
    mismatches = []
    for key, want in sorted(truth.items()):
        got = view[key][column]
        same = (got is None and want[column] is None) or (
            got is not None and want[column] is not None and math.isclose(got, want[column], abs_tol=1e-12)
        )
        if not same:
            mismatches.append((str(key[0]), key[1], key[2], got, want[column]))
    assert not mismatches, mismatches[:10]
