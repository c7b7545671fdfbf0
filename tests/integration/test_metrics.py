"""A running worker serves /metrics with what it processed: scraped over HTTP and parsed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter

import pytest

from tests.conftest import CLI, ROOT, run_cli
from tests.support.eventgen import GenConfig, generate
from tests.support.oracle import expected
from tests.support.ports import free_port
from tests.support.readers import scrape_metrics

pytestmark = pytest.mark.integration


def _value(families: dict[str, list], sample: str, **labels: str) -> float:
    total = 0.0
    for family in families.values():
        for s in family:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def test_metrics_match_what_the_worker_processed(broker: str, unique: str, tmp_path) -> None:
    lines = generate(GenConfig(events=6000, teachers=300, seed=11))
    truth = expected(lines, now_ms=int(time.time() * 1000))
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    port = free_port()
    topic = f"{unique}.events"
    env = {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": unique,
        "SFERUM_INPUT_TOPICS": topic,
        "SFERUM_DEAD_LETTER_TOPIC": f"{unique}.dead-letter",
        "SFERUM_DATA_DIR": str(tmp_path / "data"),
        "SFERUM_STORE": f"chdb://{tmp_path / 'store'}",
        "SFERUM_WEB_PORT": str(port),
        "SFERUM_FLUSH_INTERVAL_S": "0.5",
    }
    assert run_cli("produce", "--topic", topic, str(path), env=env).returncode == 0
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_")}
    worker = subprocess.Popen([*CLI, "worker"], env=clean | env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        families: dict[str, list] = {}
        while time.monotonic() < deadline:
            time.sleep(1)
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            try:
                families = scrape_metrics(port)
            except OSError:
                continue
            consumed_all = _value(families, "sferum_events_consumed_total") >= len(lines)
            caught_up = _value(families, "sferum_consumer_lag_messages") == 0
            if consumed_all and caught_up and _value(families, "sferum_flush_pending_rows") == 0:
                break
        assert _value(families, "sferum_events_consumed_total") == len(lines)
        assert _value(families, "sferum_events_consumed_total", topic=topic, type="invalid") == sum(
            n for reason, n in truth.rejected.items() if reason != "late"
        )
        rejected = Counter(
            {
                s.labels["reason"]: int(s.value)
                for s in families["sferum_events_rejected"]
                if s.name == "sferum_events_rejected_total" and s.value
            }
        )
        assert rejected == truth.rejected
        assert _value(families, "sferum_events_late_total") == truth.rejected["late"]
        assert _value(families, "sferum_events_counted_total") == truth.counted
        assert _value(families, "sferum_events_duplicate_total") == truth.duplicates
        assert _value(families, "sferum_events_ignored_total") == truth.ignored
        assert _value(families, "sferum_flush_rows_total") >= len(truth.teacher_week)
        assert _value(families, "sferum_flush_failures_total") == 0
        assert time.time() - _value(families, "sferum_flush_last_success_timestamp_seconds") < 60
        assert _value(families, "sferum_flush_duration_seconds_count") > 0
        partitions = {s.labels["partition"] for s in families["sferum_stream_time_seconds"]}
        assert partitions == {"0", "1", "2", "3"}
        assert all(s.value > 0 for s in families["sferum_event_lag_seconds"])
        assert _value(families, "sferum_assigned_partitions") == 4
        assert _value(families, "sferum_restore_duration_seconds_count") == 4  # each partition restored once
        assert _value(families, "sferum_partitions_lost_total") == 0
        assert _value(families, "sferum_input_offset_gaps_total") == 0  # produced without transactions
        assert "sferum_kpi_week_start_timestamp_seconds" in families
        ids = _ids_in(lines)
        for family in families.values():  # labels from small fixed sets only: no ids of people
            for s in family:
                assert not set(s.labels.values()) & ids, s
                # the generator's id shapes; topic names are configuration (this one is random)
                values = [v for name, v in s.labels.items() if name != "topic"]
                assert not any(v.startswith(("t0", "s0", "p0", "ev-")) for v in values), s
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()


def _ids_in(lines: list[bytes]) -> set[str]:
    """Every user, event and chat id in the input (malformed lines skipped)."""
    ids: set[str] = set()
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            ids.update(v for k in ("user_id", "event_id", "chat_id") if isinstance(v := event.get(k), str))
    return ids
