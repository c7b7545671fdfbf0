"""Hostile input on the real broker (issue "Reliability", item 5): a 10 MB message and a burst of
duplicates must not stall the worker. Used by ``tests/integration/test_hostile_stream.py`` at
CI size and runnable at full size::

    python -m tests.tools.hostile_stream --duplicates 1000000 --broker 127.0.0.1:59092

The input, on one topic in this order: generated events (the first half), one valid event padded
to ``--big-mb`` MB by an unknown field, ``--duplicates`` copies of one valid event (same bytes,
same ``event_id``), then the second half of the generated events. ``worker --drain`` must get
through it; then ``teacher_week FINAL`` and ``registrations FINAL`` must equal the independent
oracle (``tests/support/oracle.py``) over the input without the big message, which must be in the
dead-letter topic as ``too_large``: its first 64 KiB (the worker's event limit) with headers
``truncated``, ``original_bytes`` and ``original_sha256`` of the whole message.

Sizes: the broker's default ``message.max.bytes`` is about 1 MB, so the input topic is created
with ``max.message.bytes`` of 16 MiB and the producer with ``max_request_size`` to match (what an
upstream that sends such messages would need). The worker's consumer fetches at most 1 MiB per
partition per request; Kafka still returns a first record batch larger than that (KIP-74), so
it is read. The dead-letter topic is the worker's own (created by it with the broker defaults,
about 1 MB per message: why dead letters are cut).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from stream.tools.ndjson import routing_of
from tests.support.eventgen import GenConfig, generate
from tests.support.oracle import expected
from tests.support.readers import read_tables
from tests.tools.faults import Scenario, Worker, kill_leftover_workers, read_topic

TOPIC_MAX_BYTES = 16 << 20


def big_event(size: int) -> bytes:
    """A valid teacher message padded by an unknown field to exactly ``size`` bytes."""
    obj = {
        "schema_version": 1,
        "type": "message_sent",
        "event_id": "big-1",
        "ts": int(time.time() * 1000) - 86_400_000,
        "user_id": "t-big",
        "role": "teacher",
        "chat_id": "c",
        "chat_kind": "group",
        "pad": "",
    }
    base = len(json.dumps(obj, separators=(",", ":")).encode())
    obj["pad"] = "x" * (size - base)
    raw = json.dumps(obj, separators=(",", ":")).encode()
    assert len(raw) == size
    return raw


def duplicate_event() -> bytes:
    return json.dumps(
        {
            "schema_version": 1,
            "type": "message_sent",
            "event_id": "dup-1",
            "ts": int(time.time() * 1000) - 86_400_000,
            "user_id": "t-dup",
            "role": "teacher",
            "chat_id": "c",
            "chat_kind": "group",
        },
        separators=(",", ":"),
    ).encode()


async def _create_topic(broker: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, partitions, 1, topic_configs={"max.message.bytes": str(TOPIC_MAX_BYTES)})]
        )
    finally:
        await admin.close()


async def _produce(broker: str, topic: str, lines: list[bytes], chunk: int = 5000) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=broker,
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        max_request_size=TOPIC_MAX_BYTES,
    )
    await producer.start()
    try:
        for i in range(0, len(lines), chunk):
            futures = [await producer.send(topic, line, key=routing_of(line)[0]) for line in lines[i : i + chunk]]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


@dataclass
class HostileReport:
    events: int
    duplicates: int
    big_bytes: int
    produce_s: float = 0.0
    drain_s: float = 0.0
    exit_code: int | None = None
    exact: bool = False
    big_dead_lettered: bool = False
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)
    expected_reasons: dict[str, int] = field(default_factory=dict)  # the oracle's, without the big one
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = self.events / self.drain_s if self.drain_s else 0.0
        return "\n".join(
            [
                f"messages: {self.events} ({self.duplicates} duplicates of one event, one of {self.big_bytes} bytes)",
                f"produced in {self.produce_s:.1f} s",
                f"worker --drain: exit {self.exit_code} after {self.drain_s:.1f} s ({rate:,.0f} messages/s)",
                f"big message dead-lettered as too_large (cut, with its size and sha256): {self.big_dead_lettered}",
                f"dead letters by reason: {self.dead_letter_reasons}",
                f"the oracle's rejections (without the big message): {self.expected_reasons}",
                f"teacher_week and registrations equal to the oracle: {self.exact}",
                *self.notes,
            ]
        )


def run_hostile(
    broker: str, base: Path, *, duplicates: int, big_bytes: int = 10 << 20, events: int = 4000, partitions: int = 4
) -> HostileReport:
    try:
        return _run(broker, base, duplicates=duplicates, big_bytes=big_bytes, events=events, partitions=partitions)
    finally:
        kill_leftover_workers()


def _run(broker: str, base: Path, *, duplicates: int, big_bytes: int, events: int, partitions: int) -> HostileReport:
    generated = generate(GenConfig(events=events, teachers=300, seed=5))
    half = len(generated) // 2
    big = big_event(big_bytes)
    lines = generated[:half] + [big] + [duplicate_event()] * duplicates + generated[half:]
    report = HostileReport(len(lines), duplicates, big_bytes)
    name = f"hostile{time.time_ns() % 10**12}"
    base.mkdir(parents=True, exist_ok=True)
    # the Scenario helpers give the names and worker settings; its own topic is not used
    scenario = Scenario(broker, base, name, [], expected([], 0), {}, partitions)
    asyncio.run(_create_topic(broker, scenario.topic, partitions))
    started = time.monotonic()
    asyncio.run(_produce(broker, scenario.topic, lines))
    report.produce_s = time.monotonic() - started
    started = time.monotonic()
    worker = Worker(scenario.env(), base / "worker.log", drain=True)
    report.exit_code = worker.wait(3600)
    report.drain_s = time.monotonic() - started
    if report.exit_code != 0:
        report.notes.append(f"worker log tail:\n{worker.tail()}")
        return report
    truth = expected([line for line in lines if line is not big], now_ms=int(time.time() * 1000))
    teacher_week, registrations = read_tables(scenario.store())
    report.exact = teacher_week == truth.teacher_week and registrations == truth.registrations
    letters = read_topic(broker, scenario.dead_letter_topic, partitions)
    reasons: dict[str, int] = {}
    for _, headers in letters:
        reasons[headers.get("reason", "?")] = reasons.get(headers.get("reason", "?"), 0) + 1
    report.dead_letter_reasons = reasons
    digest = hashlib.sha256(big).hexdigest()
    report.big_dead_lettered = any(
        h.get("reason") == "too_large"
        and h.get("original_sha256") == digest
        and h.get("original_bytes") == str(len(big))
        and v == big[: 64 * 1024]
        for v, h in letters
    )
    report.expected_reasons = dict(truth.rejected)
    return report


def main(argv: list[str] | None = None) -> int:
    import tempfile

    prog = "python -m tests.tools.hostile_stream"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="127.0.0.1:9092")
    parser.add_argument("--duplicates", type=int, default=1_000_000)
    parser.add_argument("--big-mb", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=4000, help="generated events around the burst")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="sferum-hostile-"))
    report = run_hostile(
        args.broker, base, duplicates=args.duplicates, big_bytes=int(args.big_mb * (1 << 20)), events=args.events
    )
    print(report.summary())
    print(f"work directory: {base}")
    return 0 if report.exact and report.big_dead_lettered else 1


if __name__ == "__main__":
    sys.exit(main())
