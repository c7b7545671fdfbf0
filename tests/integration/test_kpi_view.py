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
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, list[bytes]]:
    """The dataset replayed and its registry loaded into a fresh embedded store."""
    registry, lines = build()
    base = tmp_path_factory.mktemp("kpi")
    events = base / "events.ndjson"
    events.write_bytes(b"\n".join(lines) + b"\n")
    env = {"SFERUM_STORE": f"chdb://{base / 'store'}"}
    replayed = run_cli("replay", "--json", "--dead-letter", str(base / "dl.ndjson"), str(events), env=env)
    assert replayed.returncode == 0, replayed.stderr
    loaded = run_cli("load-registry", str(write_registry(registry, base / "registry")), env=env)
    assert loaded.returncode == 0, loaded.stderr
    return env["SFERUM_STORE"], registry, lines


@pytest.fixture(scope="module")
def store(loaded: tuple[str, dict, list[bytes]]) -> str:
    return loaded[0]


@pytest.fixture(scope="module")
def view_and_truth(loaded: tuple[str, dict, list[bytes]]) -> tuple[dict, dict]:
    store, registry, lines = loaded
    rows = _query(store, "SELECT * FROM sferum.kpi_unit_week")
    view = {(r["week_start"], r["unit_kind"], r["unit_id"]): r for r in rows}
    assert len(view) == len(rows), "one row per (week_start, unit_kind, unit_id)"
    truth_events = expected(lines, now_ms=NOW_MS)
    truth = kpi_unit_week(registry, truth_events.teacher_week, truth_events.registrations, truth_events.staff_week)
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


def _query(store: str, sql: str) -> list[dict]:
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:
        result = sink.client.query(sql)
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    finally:
        sink.close()


def _level(share: float) -> str:
    return "low" if share < 0.30 else "high" if share > 0.70 else "sufficient"


def test_levels_follow_the_thresholds(view_and_truth: tuple[dict, dict], store: str) -> None:
    _, truth = view_and_truth
    rows = _query(store, "SELECT week_start, unit_kind, unit_id, metric, share, level FROM sferum.kpi_levels")
    assert rows
    for r in rows:
        want = truth[(r["week_start"], r["unit_kind"], r["unit_id"])][r["metric"]]
        assert math.isclose(r["share"], want, abs_tol=1e-12)
        assert r["level"] == _level(want), r


def test_dynamics_is_the_change_from_the_previous_week(view_and_truth: tuple[dict, dict], store: str) -> None:
    _, truth = view_and_truth
    rows = _query(
        store, "SELECT week_start, unit_kind, unit_id, metric, prev_share, delta_pp, direction FROM sferum.kpi_dynamics"
    )
    weeks = sorted({k[0] for k in truth})
    checked = 0
    for r in rows:
        i = weeks.index(r["week_start"])
        if i == 0:
            assert r["prev_share"] is None and r["direction"] == "none"
            continue
        now = truth[(r["week_start"], r["unit_kind"], r["unit_id"])][r["metric"]]
        before = truth[(weeks[i - 1], r["unit_kind"], r["unit_id"])][r["metric"]]
        delta = round((now - before) * 100, 2)
        assert math.isclose(r["delta_pp"], delta, abs_tol=1e-9), r
        assert r["direction"] == ("growth" if delta > 0 else "fall" if delta < 0 else "none")
        checked += 1
    assert checked > 0 and any(r["direction"] == "growth" for r in rows)


def test_region_ranking_orders_by_b_share(view_and_truth: tuple[dict, dict], store: str) -> None:
    _, truth = view_and_truth
    rows = _query(store, "SELECT week_start, region_id, b_share, rank FROM sferum.kpi_region_ranking")
    for week in {r["week_start"] for r in rows}:
        ranked = sorted((r for r in rows if r["week_start"] == week), key=lambda r: r["rank"])
        shares = [truth[(week, "region", r["region_id"])]["b_share"] for r in ranked]
        assert shares == sorted(shares, reverse=True)


def test_municipality_lists_agree_with_region_counts(view_and_truth: tuple[dict, dict], store: str) -> None:
    _, truth = view_and_truth
    rows = _query(store, "SELECT week_start, region_id, municipality_id, list FROM sferum.kpi_municipality_lists")
    for (week, kind, unit), want in truth.items():
        if kind != "region":
            continue
        mine = [r for r in rows if r["week_start"] == week and r["region_id"] == unit]
        assert sum(r["list"] == "active" for r in mine) == want["municipalities_active"]
        absent = sum(r["list"] == "absent" for r in mine)
        assert absent == want["municipalities_total"] - want["municipalities_registered"]
    # by hand (kpi_dataset): m4 never registers, m3 registers in the third week
    assert {r["list"] for r in rows if r["municipality_id"] == "m4"} == {"absent"}
    m3 = sorted((r["week_start"], r["list"]) for r in rows if r["municipality_id"] == "m3")
    assert [lst for _, lst in m3[:2]] == ["absent", "absent"] and m3[2][1] == "active"
