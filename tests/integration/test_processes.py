"""``worker --processes 2`` with real worker processes, through the supervisor's seam
(``tests/support/supervise.py``): the CLI refuses N > 1 on the embedded store, so each child is
given an embedded store of its own here, and the rows are read back from both. With checkpoints
an hour apart, the counts reach ClickHouse and the offsets reach Kafka only because SIGTERM to
the supervisor reaches each worker, which checkpoints and commits before it exits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from stream.kafka.admin import committed_offsets, end_offsets
from stream.settings import load_settings
from tests.conftest import ROOT, run_cli
from tests.support.eventgen import GenConfig, generate
from tests.support.oracle import expected
from tests.support.ports import free_port
from tests.support.readers import read_tables, scrape_metrics
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _sum(port: int, name: str) -> float:
    return sum(s.value for f in scrape_metrics(port).values() for s in f if s.name == name)


def test_sigterm_to_the_supervisor_makes_every_worker_checkpoint_and_commit(
    broker: str, unique: str, tmp_path: Path
) -> None:
    lines = generate(GenConfig(events=3_000, weeks=2, teachers=200))
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"\n".join(lines) + b"\n")
    truth = expected(lines, now_ms=int(time.time() * 1000))
    port = free_port()
    while not all(_port_free(port + i) for i in range(2)):
        port = free_port()
    topic = f"{unique}.events"
    env = {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": unique,
        "SFERUM_INPUT_TOPICS": topic,
        "SFERUM_DEAD_LETTER_TOPIC": f"{unique}.dead-letter",
        "SFERUM_PARTITIONS": "4",
        "SFERUM_DATA_DIR": str(tmp_path / "data"),
        "SFERUM_STORE": "http://127.0.0.1:1",  # a server, as --processes needs; each child gets its own store below
        "SFERUM_WEB_PORT": str(port),
        "SFERUM_PROCESSES": "2",
        "SFERUM_FLUSH_INTERVAL_S": "3600",
        "SFERUM_SESSION_TIMEOUT_S": "30",
    }
    stores = {str(i): f"chdb://{tmp_path / f'store-{i}'}" for i in range(2)}
    spec = {"settings": {}, "hostname": "it-host", "child_env": {i: {"SFERUM_STORE": s} for i, s in stores.items()}}
    spec["log_level"] = "WARNING"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_")}
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "tests.support.supervise", json.dumps(spec)],
        cwd=ROOT,
        env=clean | env,
        stderr=subprocess.PIPE,
        text=True,
    )
    settings = load_settings(**{k.removeprefix("SFERUM_").lower(): v for k, v in env.items()})
    try:
        # both in the group, two partitions each, before any event: no checkpoint of a rebalance
        # commits what follows
        wait_until(
            "two partitions per worker",
            lambda: [_sum(port + i, "sferum_assigned_partitions") for i in range(2)],
            lambda got: got == [2, 2],
            timeout_s=120,
        )
        produced = run_cli("produce", "--topic", topic, str(events), env=env)
        assert produced.returncode == 0, produced.stderr[-3000:]
        wait_until(
            "every event consumed",
            lambda: sum(_sum(port + i, "sferum_events_consumed_total") for i in range(2)),
            lambda n: n == len(lines),
            timeout_s=120,
        )
        assert [_sum(port + i, "sferum_assigned_partitions") for i in range(2)] == [2, 2]
        assert all(_sum(port + i, "sferum_flush_pending_rows") > 0 for i in range(2))
        assert sum(asyncio.run(committed_offsets(settings, unique)).values()) == 0
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            _, stderr = supervisor.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            raise
    assert supervisor.returncode == 0, stderr[-4000:]

    ends = {tp: end for tp, (_, end) in asyncio.run(end_offsets(settings, [topic])).items()}
    assert set(ends) == {TopicPartition(topic, p) for p in range(4)}
    assert asyncio.run(committed_offsets(settings, unique)) == ends
    merged: dict = {}
    registrations: set = set()
    for dsn in stores.values():
        weeks, regs = read_tables(dsn)
        assert weeks, f"{dsn}: each worker wrote its partitions' rows"
        for key, row in weeks.items():
            if key not in merged or row[-1] > merged[key][-1]:
                merged[key] = row
        registrations |= regs
    assert merged == truth.teacher_week
    assert registrations == truth.registrations


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
