"""The default layout: one topic per event type, co-partitioned by user_id. Kafka orders a user's
events only within a topic; the worker applies each partition's topics merged by event time.

* 100,000 generated events with duplicates, reordering, late and malformed lines, produced as a
  backlog, against the independent oracle applied in the order the merge gives
  (``tests/support/topic_order.py``);
* a backfill of eight weeks of a realistic profile (``generate``) through the four topics equals
  ``replay`` of the same file: tables, indicators and ``late`` dead letters. Without the merge, a
  sparse topic (registrations, calls) ran weeks ahead of the messages in event time, and the
  messages were then judged late (1,381 of 10,301 teacher-weeks differed on the seed's region);
* the same when the worker was stopped for longer than the allowed lateness while the events
  kept coming, then restarted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from tests.conftest import run_cli
from tests.support.eventgen import GenConfig, generate
from tests.support.oracle import expected_through_topics
from tests.support.ports import free_port
from tests.support.readers import (
    read_dead_letter_topic,
    read_staff_week,
    read_tables,
    reasons,
)
from tests.tools.backfill_check import assert_same_as_replay, replay

pytestmark = pytest.mark.integration

TYPES = ("chat_created", "message_sent", "call", "registered")


def _send_with_wrong_key(broker: str, topic: str, value: bytes) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=b"not-the-user")
        finally:
            await producer.stop()

    asyncio.run(send())


def _env(broker: str, unique: str, base: Path) -> dict[str, str]:
    """A worker on four topics of its own: the default layout under the test's names."""
    return {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": unique,
        **{f"SFERUM_TOPIC_{t.upper()}": f"{unique}.{t.replace('_', '-')}" for t in TYPES},
        "SFERUM_DEAD_LETTER_TOPIC": f"{unique}.dead-letter",
        "SFERUM_DATA_DIR": str(base / "data"),
        "SFERUM_STORE": f"chdb://{base / 'store'}",
        "SFERUM_WEB_PORT": str(free_port()),
    }


def test_a_backlog_of_100000_events_on_four_topics_matches_the_oracle(broker: str, unique: str, tmp_path: Path) -> None:
    lines = generate(GenConfig(events=100_000, weeks=6))
    truth = expected_through_topics(lines, now_ms=int(time.time() * 1000), partitions=4)
    assert truth.rejected["late"] > 100 and truth.duplicates > 3000
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    env = _env(broker, unique, tmp_path)
    produced = run_cli("produce", str(path), env=env)
    assert produced.returncode == 0, produced.stderr[-3000:]
    for t in TYPES:
        assert f"→ {unique}.{t.replace('_', '-')}" in produced.stdout
    wrong_key = lines[next(i for i, line in enumerate(lines) if i not in truth.rejected_lines and b"teacher" in line)]
    _send_with_wrong_key(broker, f"{unique}.message-sent", wrong_key)

    drained = run_cli("worker", "--drain", env=env, timeout=900)
    assert drained.returncode == 0, drained.stderr[-5000:]

    teacher_week, registrations = read_tables(env["SFERUM_STORE"])
    assert teacher_week == truth.teacher_week
    assert registrations == truth.registrations
    assert read_staff_week(env["SFERUM_STORE"]) == truth.staff_week
    letters = read_dead_letter_topic(broker, f"{unique}.dead-letter", expected=sum(truth.rejected.values()) + 1)
    got = [(value, headers["reason"]) for value, headers in letters]
    assert reasons(got) == truth.rejected + Counter({"key_mismatch": 1})
    assert Counter(got) == Counter((lines[i], r) for i, r in truth.rejected_lines.items()) + Counter(
        {(wrong_key, "key_mismatch"): 1}
    )


@pytest.fixture(scope="module")
def backfill(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Eight weeks of the small profile (about 50,000 events), in time order as the platform
    emits them, and its registry."""
    base = tmp_path_factory.mktemp("backfill")
    done = run_cli(
        "generate", "--profile", "small", "--scale", "0.3", "--weeks", "8", "--last-week", "2026-11-16",
        str(base), env={},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return base / "events.ndjson", base / "registry"


@pytest.fixture(scope="module")
def replayed(backfill: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    events, registry = backfill
    return replay(events, registry, tmp_path_factory.mktemp("replay"))


def test_a_backfill_of_eight_weeks_through_the_four_topics_equals_replay(
    broker: str, unique: str, tmp_path: Path, backfill: tuple[Path, Path], replayed: tuple[str, Path]
) -> None:
    events, registry = backfill
    env = _env(broker, unique, tmp_path)
    assert run_cli("load-registry", str(registry), env=env).returncode == 0
    assert run_cli("produce", str(events), env=env).returncode == 0  # every week at once
    drained = run_cli("worker", "--drain", env=env, timeout=900)
    assert drained.returncode == 0, drained.stderr[-5000:]
    assert_same_as_replay(env["SFERUM_STORE"], broker, env["SFERUM_DEAD_LETTER_TOPIC"], replayed)


def test_a_worker_stopped_longer_than_the_lateness_catches_up_exactly(
    broker: str, unique: str, tmp_path: Path, backfill: tuple[Path, Path], replayed: tuple[str, Path]
) -> None:
    events, registry = backfill
    lines = events.read_bytes().splitlines(keepends=True)
    first, rest = tmp_path / "first.ndjson", tmp_path / "rest.ndjson"
    cut = len(lines) * 3 // 8  # about three weeks: five weeks come while the worker is down
    first.write_bytes(b"".join(lines[:cut]))
    rest.write_bytes(b"".join(lines[cut:]))
    env = _env(broker, unique, tmp_path)
    assert run_cli("load-registry", str(registry), env=env).returncode == 0
    assert run_cli("produce", str(first), env=env).returncode == 0
    assert run_cli("worker", "--drain", env=env, timeout=900).returncode == 0
    assert run_cli("produce", str(rest), env=env).returncode == 0  # the outage: weeks of events
    drained = run_cli("worker", "--drain", env=env, timeout=900)
    assert drained.returncode == 0, drained.stderr[-5000:]
    assert_same_as_replay(env["SFERUM_STORE"], broker, env["SFERUM_DEAD_LETTER_TOPIC"], replayed)
