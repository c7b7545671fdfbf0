"""The default layout: one topic per event type, co-partitioned by user_id. Kafka orders a user's
events only within a topic, so the data here keeps every lateness decision independent of how
the worker interleaves the topics (see ``GenConfig.order_robust``)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer

from tests.conftest import run_cli
from tests.integration.helpers import read_dead_letter_topic, read_tables, reasons
from tests.support.eventgen import GenConfig, generate
from tests.support.oracle import expected
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


def _send_with_wrong_key(broker: str, topic: str, value: bytes) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=b"not-the-user")
        finally:
            await producer.stop()

    asyncio.run(send())


def test_four_topics_worker_matches_independent_computation(broker: str, unique: str, tmp_path) -> None:
    lines = generate(GenConfig(events=30_000, order_robust=True, teachers=600, seed=4))
    truth = expected(lines, now_ms=int(time.time() * 1000))
    assert truth.rejected["late"] > 0 and truth.duplicates > 0
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    topics = {t: f"{unique}.{t.replace('_', '-')}" for t in ("chat_created", "message_sent", "call", "registered")}
    env = {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": unique,
        **{f"SFERUM_TOPIC_{t.upper()}": name for t, name in topics.items()},
        "SFERUM_DEAD_LETTER_TOPIC": f"{unique}.dead-letter",
        "SFERUM_DATA_DIR": str(tmp_path / "data"),
        "SFERUM_STORE": f"chdb://{tmp_path / 'store'}",
        "SFERUM_WEB_PORT": str(free_port()),
    }
    produced = run_cli("produce", str(path), env=env)
    assert produced.returncode == 0, produced.stderr[-3000:]
    for name in topics.values():
        assert f"→ {name}" in produced.stdout
    wrong_key = lines[next(i for i, line in enumerate(lines) if i not in truth.rejected_lines and b"teacher" in line)]
    _send_with_wrong_key(broker, topics["message_sent"], wrong_key)

    drained = run_cli("worker", "--drain", env=env, timeout=900)
    assert drained.returncode == 0, drained.stderr[-5000:]

    teacher_week, registrations = read_tables(env["SFERUM_STORE"])
    assert teacher_week == truth.teacher_week
    assert registrations == truth.registrations
    letters = read_dead_letter_topic(broker, f"{unique}.dead-letter", expected=sum(truth.rejected.values()) + 1)
    got = [(value, headers["reason"]) for value, headers in letters]
    assert reasons(got) == truth.rejected + Counter({"key_mismatch": 1})
    assert (wrong_key, "key_mismatch") in got
