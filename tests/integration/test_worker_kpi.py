"""The worker keeps ``kpi_unit_week`` current: registry loaded first, then events streamed."""

from __future__ import annotations

import pytest

from sinks.clickhouse import ClickHouseSink
from tests.conftest import run_cli
from tests.support.kpi_dataset import NOW_MS, build, write_registry
from tests.support.kpi_oracle import COLUMNS, LIST_COLUMNS, kpi_unit_week, same_value
from tests.support.oracle import expected
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


def test_worker_refreshes_the_indicators_it_changed(broker: str, unique: str, tmp_path) -> None:
    registry, lines = build()
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"\n".join(lines) + b"\n")
    env = {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": unique,
        "SFERUM_INPUT_TOPICS": f"{unique}.events",
        "SFERUM_DEAD_LETTER_TOPIC": f"{unique}.dead-letter",
        "SFERUM_DATA_DIR": str(tmp_path / "data"),
        "SFERUM_STORE": f"chdb://{tmp_path / 'store'}",
        "SFERUM_WEB_PORT": str(free_port()),
    }
    loaded = run_cli("load-registry", str(write_registry(registry, tmp_path / "registry")), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert run_cli("produce", "--topic", f"{unique}.events", str(events), env=env).returncode == 0
    drained = run_cli("worker", "--drain", env=env, timeout=600)
    assert drained.returncode == 0, drained.stderr[-3000:]

    truth_events = expected(lines, now_ms=NOW_MS)
    truth = kpi_unit_week(registry, truth_events.teacher_week, truth_events.registrations, truth_events.staff_week)
    sink = ClickHouseSink(dsn=env["SFERUM_STORE"], database="sferum")
    try:
        result = sink.client.query("SELECT * FROM sferum.kpi_unit_week")
        rows = [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
    finally:
        sink.close()
    view = {(r["week_start"], r["unit_kind"], r["unit_id"]): r for r in rows}
    assert sorted(view) == sorted(truth)
    lists = {key: tuple(view[key][c] for c in LIST_COLUMNS) for key in truth}
    assert lists == {key: tuple(want[c] for c in LIST_COLUMNS) for key, want in truth.items()}
    for key, want in truth.items():
        for column in COLUMNS:
            assert same_value(view[key][column], want[column]), (key, column, view[key][column], want[column])
