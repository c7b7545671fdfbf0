"""The worker keeps ``kpi_unit_week`` current: registry loaded first, then events streamed; the
timed refresh recomputes from the earliest week changed since the last one."""

from __future__ import annotations

import json
import signal
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sinks.clickhouse import ClickHouseSink
from tests.conftest import run_cli
from tests.support.eventgen import week_of
from tests.support.kpi_dataset import NOW_MS, build, write_registry
from tests.support.kpi_oracle import COLUMNS, LIST_COLUMNS, kpi_unit_week, same_value
from tests.support.oracle import expected
from tests.support.ports import free_port
from tests.tools.deadletter_helpers import Kafka, Process, metric, wait_for

pytestmark = pytest.mark.integration


def test_worker_refreshes_the_indicators_it_changed(broker: str, unique: str, tmp_path: Path) -> None:
    registry, lines = build()
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"\n".join(lines) + b"\n")
    env = _env(broker, unique, tmp_path)
    loaded = run_cli("load-registry", str(write_registry(registry, tmp_path / "registry")), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert run_cli("produce", "--topic", f"{unique}.events", str(events), env=env).returncode == 0
    drained = run_cli("worker", "--drain", env=env, timeout=600)
    assert drained.returncode == 0, drained.stderr[-3000:]

    truth = _kpi_truth(registry, lines)
    view = _kpi_view(env["SFERUM_STORE"])
    assert sorted(view) == sorted(truth)
    lists = {key: tuple(view[key][c] for c in LIST_COLUMNS) for key in truth}
    assert lists == {key: tuple(want[c] for c in LIST_COLUMNS) for key, want in truth.items()}
    for key, want in truth.items():
        for column in COLUMNS:
            assert same_value(view[key][column], want[column]), (key, column, view[key][column], want[column])


def _env(broker: str, unique: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": unique,
        "SFERUM_INPUT_TOPICS": f"{unique}.events",
        "SFERUM_DEAD_LETTER_TOPIC": f"{unique}.dead-letter",
        "SFERUM_DATA_DIR": str(tmp_path / "data"),
        "SFERUM_STORE": f"chdb://{tmp_path / 'store'}",
        "SFERUM_WEB_PORT": str(free_port()),
    }


def _kpi_view(store: str) -> dict[tuple[date, str, str], dict[str, Any]]:
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:
        result = sink.client.query("SELECT * FROM sferum.kpi_unit_week")
        rows = [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
    finally:
        sink.close()
    view = {(r["week_start"], r["unit_kind"], r["unit_id"]): r for r in rows}
    assert len(view) == len(rows), "one row per (week_start, unit_kind, unit_id)"
    return view


def test_timed_refresh_covers_late_events_from_their_week_on(broker: str, unique: str, tmp_path: Path) -> None:
    """With a 1 s refresh interval: the events of the week before the newest are held back until
    the worker has refreshed everything else, then sent. The next timed refresh must recompute
    from that older week on (its rows and the newest week's, which is cumulative). The worker is
    then SIGKILLed, so no refresh at stop can mend what the timer left."""
    registry, lines = build()
    weeks = sorted({_week_of_line(line) for line in lines} - {None})
    older = weeks[-2]
    held = [line for line in lines if _week_of_line(line) == older and b'"registered"' not in line]
    first = [line for line in lines if line not in held]
    assert len(held) >= 10
    before = _kpi_truth(registry, first)
    truth = _kpi_truth(registry, first + held)
    changed = {key for key in truth if any(not same_value(before[key][c], truth[key][c]) for c in truth[key])}
    # the held events change rows of the older week and of the newest (cumulative) week
    assert {key[0] for key in changed} >= {older, weeks[-1]}

    env = _env(broker, unique, tmp_path) | {"SFERUM_KPI_REFRESH_INTERVAL_S": "1"}
    port, topic = int(env["SFERUM_WEB_PORT"]), env["SFERUM_INPUT_TOPICS"]
    loaded = run_cli("load-registry", str(write_registry(registry, tmp_path / "registry")), env=env)
    assert loaded.returncode == 0, loaded.stderr
    kafka = Kafka(broker)

    def produce(part: list[bytes], name: str) -> None:
        path = tmp_path / name
        path.write_bytes(b"\n".join(part) + b"\n")
        assert run_cli("produce", "--topic", topic, str(path), env=env).returncode == 0

    def committed_then_refreshed(total: int) -> None:
        wait_for(
            f"the worker to commit {total} events",
            lambda: (
                metric(port, "sferum_events_consumed_total") >= total
                and metric(port, "sferum_flush_pending_rows") == 0
                and kafka.drained(unique, topic)
            ),
            timeout=300,
        )
        assert metric(port, "sferum_events_consumed_total") == total
        # a refresh (or a check that found nothing new) began after the last checkpoint committed
        flushed = metric(port, "sferum_flush_last_success_timestamp_seconds")
        wait_for(
            "a refresh after the last checkpoint",
            lambda: metric(port, "sferum_kpi_current_as_of_timestamp_seconds") > flushed,
            timeout=60,
        )

    produce(first, "first.ndjson")
    worker = Process(["worker"], env, tmp_path / "worker.log")
    try:
        wait_for("the worker's /metrics", lambda: _answers(port) or not worker.alive, timeout=120)
        assert worker.alive, worker.tail()
        committed_then_refreshed(len(first))
        produce(held, "held.ndjson")
        committed_then_refreshed(len(lines))
        assert metric(port, "sferum_kpi_refreshes_total", outcome="failed") == 0
        assert metric(port, "sferum_kpi_refreshes_total", outcome="ok") >= 2
    finally:
        code = worker.stop(signal.SIGKILL)
    assert code == -signal.SIGKILL, worker.tail()

    view = _kpi_view(env["SFERUM_STORE"])
    assert sorted(view) == sorted(truth)
    wrong = [
        (k, c, view[k][c], truth[k][c]) for k in truth for c in truth[k] if not same_value(view[k][c], truth[k][c])
    ]
    assert not wrong, wrong[:10]


def _answers(port: int) -> bool:
    try:
        metric(port, "sferum_events_consumed_total")
    except OSError:
        return False
    return True


def _week_of_line(line: bytes) -> date | None:
    try:
        ts = json.loads(line)["ts"]
    except (ValueError, KeyError, TypeError):
        return None
    return week_of(ts).date() if type(ts) is int else None


def _kpi_truth(registry: dict[str, list[list[str]]], lines: list[bytes]) -> dict[tuple[date, str, str], dict[str, Any]]:
    events = expected(lines, now_ms=NOW_MS)
    return kpi_unit_week(registry, events.teacher_week, events.registrations, events.staff_week)
