"""Two workers on a 4-partition topic: ``sum by (region)`` of their ``sferum_kpi_teachers``
gauges equals ``kpi_unit_week`` of the current week (computed by replay of the same events)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sinks.clickhouse import ClickHouseSink
from tests.conftest import CLI, ROOT, run_cli
from tests.integration.helpers import free_port, scrape_metrics
from tests.support.eventgen import MSK
from tests.support.kpi_dataset import W4, build, write_registry

pytestmark = pytest.mark.integration


def _shift_to_this_week(lines: list[bytes]) -> list[bytes]:
    """Move the dataset so its last week is the current week; events after now stay out."""
    now = datetime.now(MSK)
    monday = (now - timedelta(days=now.weekday())).date()
    shift_ms = int(
        (
            datetime.combine(monday, datetime.min.time(), MSK) - datetime.combine(W4, datetime.min.time(), MSK)
        ).total_seconds()
        * 1000
    )
    now_ms = int(now.timestamp() * 1000)
    out = []
    for line in lines:
        obj = json.loads(line)
        obj["ts"] += shift_ms
        if obj["ts"] <= now_ms:
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


def test_two_workers_gauges_sum_to_kpi_unit_week(broker: str, unique: str, tmp_path: Path) -> None:
    registry, lines = build()
    lines = _shift_to_this_week(lines)
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"\n".join(lines) + b"\n")
    registry_dir = write_registry(registry, tmp_path / "registry")

    # the expectation: replay (equal to the worker, tested elsewhere) and kpi_unit_week
    reference = {"SFERUM_STORE": f"chdb://{tmp_path / 'reference'}"}
    assert run_cli("replay", "--json", "--dead-letter", "/dev/null", str(events), env=reference).returncode == 0
    assert run_cli("load-registry", str(registry_dir), env=reference).returncode == 0
    sink = ClickHouseSink(dsn=reference["SFERUM_STORE"], database="sferum")
    try:
        rows = sink.query_rows(
            "SELECT unit_id, teachers_registered, a_teachers, b_teachers, c_teachers, d_teachers, active_teachers "
            "FROM sferum.kpi_unit_week WHERE unit_kind = 'region' "
            "AND week_start = (SELECT max(week_start) FROM sferum.kpi_unit_week)"
        )
    finally:
        sink.close()
    want: Counter[tuple[str, str]] = Counter()
    for region, *counts in rows:
        for indicator, n in zip(("registered", "a", "b", "c", "d", "active"), counts, strict=True):
            want[(region, indicator)] = int(n)
    assert want[("r1", "registered")] > 0

    topic = f"{unique}.events"
    base = {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": unique,
        "SFERUM_INPUT_TOPICS": topic,
        "SFERUM_DEAD_LETTER_TOPIC": f"{unique}.dead-letter",
        "SFERUM_FLUSH_INTERVAL_S": "0.5",
        "SFERUM_KPI_REFRESH_INTERVAL_S": "1",
    }
    workers, ports = [], []
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_")}
    try:
        for name in ("a", "b"):
            env = base | {
                "SFERUM_DATA_DIR": str(tmp_path / f"data-{name}"),
                "SFERUM_STORE": f"chdb://{tmp_path / f'store-{name}'}",  # one embedded store per process
                "SFERUM_WEB_PORT": str(port := free_port()),
            }
            assert run_cli("load-registry", str(registry_dir), env=env).returncode == 0
            log = (tmp_path / f"worker-{name}.log").open("w")
            workers.append(
                subprocess.Popen([*CLI, "--log-level", "info", "worker"], env=clean | env, cwd=ROOT, stderr=log)
            )
            ports.append(port)
        # both workers in the group, two partitions each, before any event is produced
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                owned = [_sum(_scrape(p), "sferum_assigned_partitions") for p in ports]
            except OSError:
                continue
            if owned == [2, 2]:
                break
        assert owned == [2, 2]
        assert run_cli("produce", "--topic", topic, str(events), env=base).returncode == 0
        deadline, got, scrapes = time.monotonic() + 240, Counter(), []
        while time.monotonic() < deadline:
            time.sleep(2)
            try:
                scrapes = [_scrape(p) for p in ports]
            except OSError:
                continue
            consumed = sum(_sum(v, "sferum_events_consumed_total") for v in scrapes)
            pending = sum(_sum(v, "sferum_flush_pending_rows") for v in scrapes)
            both_own_partitions = all(_sum(v, "sferum_consumer_lag_messages") == 0 for v in scrapes)
            got = sum((_gauges(v) for v in scrapes), Counter())
            if consumed >= len(lines) and pending == 0 and both_own_partitions and got == want:
                break
        assert got == want
        # both workers took part: each owns partitions and counted some of the events
        assert all(_sum(v, "sferum_events_consumed_total") > 0 for v in scrapes)
        assert all(_sum(v, "sferum_stream_time_seconds") > 0 for v in scrapes)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
