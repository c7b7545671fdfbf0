"""Two workers on a 4-partition topic: ``sum by (region)`` of their ``sferum_kpi_teachers``
gauges equals ``kpi_unit_week`` of the week the gauges describe, the current week (computed by
replay of the same events). Whatever the day and hour: on Monday at 00:30 too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from sinks.clickhouse import ClickHouseSink
from tests.conftest import CLI, ROOT, run_cli
from tests.support.eventgen import MSK
from tests.support.kpi_dataset import W4, build, write_registry
from tests.support.ports import free_port
from tests.support.readers import scrape_metrics
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.clock]

#: Events up to the end of the current week are accepted, whatever the time of day: the dataset's
#: last week is moved onto the current week whole, so it holds data even on Monday at 00:30.
FUTURE_TOLERANCE_S = 8 * 86_400


def _shift_to_this_week(lines: list[bytes], now: datetime) -> list[bytes]:
    """Move the dataset by whole weeks so that its last week is the week of ``now`` (Moscow)."""
    monday = (now - timedelta(days=now.weekday())).date()
    shift_ms = int(
        (
            datetime.combine(monday, datetime.min.time(), MSK) - datetime.combine(W4, datetime.min.time(), MSK)
        ).total_seconds()
        * 1000
    )
    out = []
    for line in lines:
        obj = json.loads(line)
        obj["ts"] += shift_ms
        out.append(json.dumps(obj, ensure_ascii=False).encode())
    return out


def _scrape(port: int) -> dict[str, float]:
    """Sample name and labels (as JSON) -> value."""
    return {
        s.name + json.dumps(s.labels, sort_keys=True): s.value
        for samples in scrape_metrics(port).values()
        for s in samples
    }


def _sum(values: dict[str, float], name: str) -> float:
    return sum(v for k, v in values.items() if k.startswith(name + "{"))


def _gauges(values: dict[str, float]) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for key, value in values.items():
        if key.startswith("sferum_kpi_teachers{"):
            labels = json.loads(key[len("sferum_kpi_teachers") :])
            out[(labels["region"], labels["indicator"])] += int(value)
    return out


def _reference(events: Path, registry_dir: Path, store: Path, week: date) -> Counter[tuple[str, str]]:
    """The region rows of ``week`` in ``kpi_unit_week``, from replay (equal to the worker, tested
    elsewhere) of the same events."""
    reference = {"SFERUM_STORE": f"chdb://{store}", "SFERUM_FUTURE_TOLERANCE_S": str(FUTURE_TOLERANCE_S)}
    assert run_cli("replay", "--json", "--dead-letter", "/dev/null", str(events), env=reference).returncode == 0
    assert run_cli("load-registry", str(registry_dir), env=reference).returncode == 0
    sink = ClickHouseSink(dsn=reference["SFERUM_STORE"], database="sferum")
    try:
        rows = sink.query_rows(
            "SELECT unit_id, teachers_registered, a_teachers, b_teachers, c_teachers, d_teachers, active_teachers "
            "FROM sferum.kpi_unit_week WHERE unit_kind = 'region' AND week_start = {week:Date}",
            parameters={"week": week},
        )
    finally:
        sink.close()
    want: Counter[tuple[str, str]] = Counter()
    for region, *counts in rows:
        for indicator, n in zip(("registered", "a", "b", "c", "d", "active"), counts, strict=True):
            want[(region, indicator)] = int(n)
    return want


def _week_start(scrape: dict[str, float]) -> date:
    return datetime.fromtimestamp(scrape["sferum_kpi_week_start_timestamp_seconds{}"], MSK).date()


def test_two_workers_gauges_sum_to_kpi_unit_week(broker: str, unique: str, tmp_path: Path) -> None:
    """The gauges describe the week of the wall clock; the dataset's last week is moved onto it.
    If the clock passes Monday 00:00 during the run, the gauges move to a week without data, and
    the scenario runs once more, in the new week."""
    for attempt in ("first", "second"):
        now = datetime.now(MSK)
        week = (now - timedelta(days=now.weekday())).date()
        gauge_week = _two_workers(broker, f"{unique}{attempt[0]}", tmp_path / attempt, now, week)
        if gauge_week == week:
            return
    pytest.fail(f"the gauges described the week of {gauge_week}, not that of the clock ({week})")


def _two_workers(broker: str, name: str, tmp_path: Path, now: datetime, week: date) -> date:
    """Run the scenario; assert the gauges equal the reference while they describe ``week``;
    return the week the gauges last described."""
    tmp_path.mkdir()
    registry, lines = build()
    lines = _shift_to_this_week(lines, now)
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"\n".join(lines) + b"\n")
    registry_dir = write_registry(registry, tmp_path / "registry")
    want = _reference(events, registry_dir, tmp_path / "reference", week)
    assert want[("r1", "registered")] > 0 and want[("r1", "a")] > 0

    topic = f"{name}.events"
    base = {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": name,
        "SFERUM_INPUT_TOPICS": topic,
        "SFERUM_DEAD_LETTER_TOPIC": f"{name}.dead-letter",
        "SFERUM_FLUSH_INTERVAL_S": "0.5",
        "SFERUM_KPI_REFRESH_INTERVAL_S": "1",
        "SFERUM_FUTURE_TOLERANCE_S": str(FUTURE_TOLERANCE_S),
    }
    workers, ports = [], []
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_")}
    try:
        for member in ("a", "b"):
            env = base | {
                "SFERUM_DATA_DIR": str(tmp_path / f"data-{member}"),
                "SFERUM_STORE": f"chdb://{tmp_path / f'store-{member}'}",  # one embedded store per process
                "SFERUM_WEB_PORT": str(port := free_port()),
            }
            assert run_cli("load-registry", str(registry_dir), env=env).returncode == 0
            log = (tmp_path / f"worker-{member}.log").open("w")
            workers.append(
                subprocess.Popen([*CLI, "--log-level", "info", "worker"], env=clean | env, cwd=ROOT, stderr=log)
            )
            ports.append(port)
        # both workers in the group, two partitions each, before any event is produced
        owned = wait_until(
            "both workers to own two partitions",
            lambda: [_sum(_scrape(p), "sferum_assigned_partitions") for p in ports],
            lambda owned: owned == [2, 2],
            timeout_s=120,
        )
        assert owned == [2, 2]
        assert run_cli("produce", "--topic", topic, str(events), env=base).returncode == 0

        def settled(scrapes: list[dict[str, float]]) -> bool:
            consumed = sum(_sum(v, "sferum_events_consumed_total") for v in scrapes)
            pending = sum(_sum(v, "sferum_flush_pending_rows") for v in scrapes)
            caught_up = all(_sum(v, "sferum_consumer_lag_messages") == 0 for v in scrapes)
            return consumed >= len(lines) and pending == 0 and caught_up

        scrapes = wait_until(
            "both workers to apply every event and show the reference",
            lambda: [_scrape(p) for p in ports],
            lambda scrapes: (
                settled(scrapes)
                and (
                    any(_week_start(v) != week for v in scrapes)
                    or sum((_gauges(v) for v in scrapes), Counter()) == want
                )
            ),
            timeout_s=240,
        )
        gauge_weeks = {_week_start(v) for v in scrapes}
        if gauge_weeks != {week}:
            return max(gauge_weeks)
        assert sum((_gauges(v) for v in scrapes), Counter()) == want
        # both workers took part: each owns partitions and counted some of the events
        assert all(_sum(v, "sferum_events_consumed_total") > 0 for v in scrapes)
        assert all(_sum(v, "sferum_stream_time_seconds") > 0 for v in scrapes)
        return week
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
