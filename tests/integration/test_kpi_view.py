"""``sferum.kpi_unit_week`` equals an independent computation, for every unit, week and column,
on a hand-built dataset of edge cases (``tests/support/kpi_dataset.py`` lists them)."""

from __future__ import annotations

import math

import pytest

from sinks.clickhouse import ClickHouseSink
from tests.conftest import run_cli
from tests.support.kpi_dataset import NOW_MS, build, write_registry
from tests.support.kpi_oracle import COLUMNS, LIST_COLUMNS, kpi_unit_week, same_value
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


@pytest.mark.parametrize("column", COLUMNS + LIST_COLUMNS)
def test_view_column_matches_independent_computation(view_and_truth: tuple[dict, dict], column: str) -> None:
    view, truth = view_and_truth
    mismatches = []
    for key, want in sorted(truth.items()):
        got = view[key][column]
        if not same_value(got, want[column]):
            mismatches.append((str(key[0]), key[1], key[2], got, want[column]))
    assert not mismatches, mismatches[:10]
    assert len(truth) == 4 * (2 + 6 + 8), "the oracle has a row for each of the 4 weeks and 16 units"


def _query(store: str, sql: str) -> list[dict]:
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:
        result = sink.client.query(sql)
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    finally:
        sink.close()


def _level(share: float) -> str:
    return "low" if share < 0.30 else "high" if share > 0.70 else "sufficient"


#: the shares of kpi_shares (every one a column of kpi_unit_week; NULL ones are left out)
SHARES = (
    "teachers_registered_share", "a_share", "b_share", "c_share", "d_share", "active_share", "active_share_of_total",
    "students_registered_share", "schools_registered_share", "schools_active_share",
    "municipalities_registered_share", "municipalities_active_share",
)  # fmt: skip


def _expected_shares(truth: dict) -> dict[tuple, float]:
    """(week_start, unit_kind, unit_id, metric) -> share, for every share that applies to the row."""
    return {(*key, metric): row[metric] for key, row in truth.items() for metric in SHARES if row[metric] is not None}


def test_levels_follow_the_thresholds(view_and_truth: tuple[dict, dict], store: str) -> None:
    _, truth = view_and_truth
    rows = _query(store, "SELECT week_start, unit_kind, unit_id, metric, share, level FROM sferum.kpi_levels")
    want = _expected_shares(truth)
    # 4 weeks: 2 regions x 12 shares, 6 municipalities x 10, 8 schools x 8
    assert len(want) == 4 * (2 * 12 + 6 * 10 + 8 * 8)
    got = {(r["week_start"], r["unit_kind"], r["unit_id"], r["metric"]): r for r in rows}
    assert len(got) == len(rows) and sorted(got) == sorted(want)
    wrong = [
        (key, r["share"], r["level"])
        for key, r in got.items()
        if not math.isclose(r["share"], want[key], abs_tol=1e-12) or r["level"] != _level(want[key])
    ]
    assert not wrong, wrong[:10]
    assert {r["level"] for r in rows} == {"low", "sufficient", "high"}


def test_dynamics_is_the_change_from_the_previous_week(view_and_truth: tuple[dict, dict], store: str) -> None:
    _, truth = view_and_truth
    rows = _query(
        store, "SELECT week_start, unit_kind, unit_id, metric, prev_share, delta_pp, direction FROM sferum.kpi_dynamics"
    )
    want = _expected_shares(truth)
    assert sorted((r["week_start"], r["unit_kind"], r["unit_id"], r["metric"]) for r in rows) == sorted(want)
    weeks = sorted({k[0] for k in truth})
    wrong = []
    for r in rows:
        i = weeks.index(r["week_start"])
        if i == 0:
            expected = (None, None, "none")
        else:
            before = want[(weeks[i - 1], r["unit_kind"], r["unit_id"], r["metric"])]
            now = want[(r["week_start"], r["unit_kind"], r["unit_id"], r["metric"])]
            delta = round((now - before) * 100, 2)
            expected = (before, delta, "growth" if delta > 0 else "fall" if delta < 0 else "none")
        got = (r["prev_share"], r["delta_pp"], r["direction"])
        same = got[2] == expected[2] and all(
            (g is None and e is None) or (g is not None and e is not None and math.isclose(g, e, abs_tol=1e-9))
            for g, e in zip(got[:2], expected[:2], strict=True)
        )
        if not same:
            wrong.append((r["week_start"], r["unit_kind"], r["unit_id"], r["metric"], got, expected))
    assert not wrong, wrong[:10]
    assert {r["direction"] for r in rows} == {"growth", "fall", "none"}


def _rank_of(shares: dict[str, float], region: str) -> int:
    """Ranks with ties: 1 + the number of regions with a strictly greater share."""
    return 1 + sum(1 for other in shares.values() if other > shares[region])


def test_region_ranking_orders_by_b_share(view_and_truth: tuple[dict, dict], store: str) -> None:
    _, truth = view_and_truth
    rows = _query(store, "SELECT week_start, region_id, b_share, rank, band FROM sferum.kpi_region_ranking")
    weeks = sorted({k[0] for k in truth})
    assert len(rows) == 2 * len(weeks) == 8, "a row per region and week"
    got = {(r["week_start"], r["region_id"]): (r["rank"], r["band"]) for r in rows}
    want = {}
    for week in weeks:
        shares = {region: truth[(week, "region", region)]["b_share"] for region in ("r1", "r2")}
        for region, share in shares.items():
            band = "0-1%" if share < 0.01 else "1-5%" if share < 0.05 else "5-100%"
            want[(week, region)] = (_rank_of(shares, region), band)
    assert got == want
    # by hand (kpi_oracle's tests): b is 1/5 vs 1/8 in W1, 3/5 vs 0 in W2, 0 vs 2/10 in W3, 0 and 0 in W4
    assert [got[(w, "r1")][0] for w in weeks] == [1, 1, 2, 1] and [got[(w, "r2")][0] for w in weeks] == [2, 2, 1, 1]


#: the region of each municipality of kpi_dataset's registry
REGION_OF = {"m1": "r1", "m2": "r1", "m5": "r1", "m3": "r2", "m4": "r2", "m6": "r2"}


def test_municipality_lists_are_the_seeds_three(view_and_truth: tuple[dict, dict], store: str) -> None:
    _, truth = view_and_truth
    rows = _query(store, "SELECT week_start, region_id, municipality_id, list FROM sferum.kpi_municipality_lists")
    got = sorted((r["week_start"], r["region_id"], r["municipality_id"], r["list"]) for r in rows)
    want = sorted(
        (week, REGION_OF[unit], unit, row["municipality_list"])
        for (week, kind, unit), row in truth.items()
        if kind == "municipality" and row["municipality_list"] in ("absent", "no_staff_registered", "active")
    )
    assert got == want

    # by hand (kpi_dataset), week by week: m5 (registered staff, never active) is in no list
    def lists(municipality: str) -> list[str | None]:
        by_week = {r[0]: r[3] for r in got if r[2] == municipality}
        return [by_week.get(week) for week in sorted({k[0] for k in truth})]

    assert lists("m1") == ["active"] * 4
    assert lists("m2") == ["absent", "active", "active", "active"]
    assert lists("m3") == ["absent", "absent", "no_staff_registered", "active"]
    assert lists("m4") == ["absent"] * 4
    assert lists("m5") == [None] * 4
    assert lists("m6") == ["no_staff_registered"] * 4
