"""``--latency``: how long after it is produced an event is visible in ClickHouse, at a steady rate.

The embedded store cannot be opened while the worker has it, so visibility is read from the
worker's side, without changing the product. The worker commits an event's offset only after the
flush that wrote its row has returned (README, "How counts stay exact"), so:

    visible(event) <= commit(event) = the first instant the group's committed offset of its
    partition is above the event's offset.

Every ``POLL_S`` the group's committed offsets are read with the aiokafka admin client. When they
move, the worker's ``/metrics`` is read once (once per flush, every ~2 s, so the worker hardly
notices) for ``sferum_flush_last_success_timestamp_seconds``: that flush ended after its commit
and before this poll, and is taken as the instant if it falls since the previous poll; otherwise
the poll's own instant is. Latency = that instant - the instant the event was handed to the
producer. Both clocks are this machine's. It is an upper bound on visibility by the producer flush
and the commit round trip after the write (milliseconds), and at worst by one poll interval.

Events are the bench data's (same users, types and mix) with ``ts`` = now and a fresh
``event_id``; the statistics cover teachers' activity events (the ones that change
``teacher_week``). A worker that is not the bench's own never sees them: fresh topic, fresh group.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench.procs import gauge, metrics_text
from stream.kafka.clients import connection_to

POLL_S = 0.1
TICK_S = 0.02
DRAIN_TIMEOUT_S = 90.0
TEMPLATES = 20_000


@dataclass(frozen=True)
class LatencyResult:
    rate_target: int
    seconds: float
    sent: int
    tracked: int  # teachers' activity events
    measured: int  # tracked events whose commit was seen
    p50_s: float
    p90_s: float
    p99_s: float
    max_s: float
    flushes_seen: int
    worker_cpu_share: float  # worker CPU seconds / wall seconds while producing

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def templates(path: Path, limit: int = TEMPLATES) -> list[dict[str, object]]:
    events = []
    with path.open("rb") as lines:
        for line in lines:
            events.append(orjson.loads(line))
            if len(events) >= limit:
                break
    return events


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


#: A topic's partition: (topic, partition).
Where = tuple[str, int]


def latencies(
    sends: list[tuple[Where, int, float]], commits: dict[Where, list[tuple[float, int]]]
) -> tuple[list[float], int]:
    """Latency of each (where, offset, sent_at) whose commit was seen, sorted; and how many
    were not. ``commits[where]`` is [(instant, committed offset)] in time order."""
    found = []
    unseen = 0
    index = {p: [offset for _, offset in changes] for p, changes in commits.items()}
    for partition, offset, sent_at in sends:
        offsets = index.get(partition, [])
        i = bisect.bisect_right(offsets, offset)  # first committed offset above the event's
        if i == len(offsets):
            unseen += 1
            continue
        found.append(commits[partition][i][0] - sent_at)
    found.sort()
    return found, unseen


async def drive(
    *,
    broker: str,
    topics: dict[str, str],
    group: str,
    metrics_port: int,
    worker_pid: int,
    events: list[dict[str, object]],
    rate: int,
    seconds: float,
    id_prefix: str,
) -> LatencyResult:
    """Produce ``events`` at ``rate`` for ``seconds``, each to the topic of its type in ``topics``
    (one topic for all, or one per type), and time each teacher event until a commit covers it."""
    producer = AIOKafkaProducer(**connection_to(broker), acks="all", enable_idempotence=True, linger_ms=5)
    admin = AIOKafkaAdminClient(**connection_to(broker))
    await producer.start()
    await admin.start()
    commits: dict[Where, list[tuple[float, int]]] = {}
    flushes = 0
    stop = asyncio.Event()
    names = set(topics.values())

    async def poll_commits() -> None:
        nonlocal flushes
        last: dict[Where, int] = {}
        previous_poll = time.time()
        while not stop.is_set():
            asked = time.time()
            offsets = await admin.list_consumer_group_offsets(group)
            seen = time.time()
            committed = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if tp.topic in names}
            moved = {p: o for p, o in committed.items() if o > last.get(p, -1)}
            if moved:
                text = await asyncio.to_thread(metrics_text, metrics_port)
                flushed_at = gauge(text, "sferum_flush_last_success_timestamp_seconds") if text else None
                instant = flushed_at if flushed_at is not None and previous_poll <= flushed_at <= seen else seen
                flushes += 1
                for partition, offset in moved.items():
                    commits.setdefault(partition, []).append((instant, offset))
                last.update(moved)
            previous_poll = asked
            await asyncio.sleep(POLL_S)

    poller = asyncio.create_task(poll_commits())
    pending: list[tuple[asyncio.Future[object], float, bool]] = []
    sent = 0
    loop = asyncio.get_running_loop()
    cpu_before = cpu_seconds(worker_pid)
    started = loop.time()
    try:
        while (elapsed := loop.time() - started) < seconds:
            due = int(elapsed * rate) - sent
            now_ms = int(time.time() * 1000)
            for _ in range(due):
                template = events[sent % len(events)]
                event = template | {"ts": now_ms, "event_id": f"{id_prefix}-{sent}"}
                tracked = event["role"] == "teacher" and event["type"] != "registered"
                handed = time.time()
                topic = topics[str(event["type"])]
                future = await producer.send(topic, orjson.dumps(event), key=str(event["user_id"]).encode())
                pending.append((future, handed, tracked))
                sent += 1
            await asyncio.sleep(TICK_S)
        produced_s = loop.time() - started
        cpu_used = cpu_seconds(worker_pid) - cpu_before
        await producer.flush()
        sends = []
        for future, handed, tracked in pending:
            metadata = await future
            where = (metadata.topic, metadata.partition)  # type: ignore[attr-defined]
            if tracked:
                sends.append((where, metadata.offset, handed))  # type: ignore[attr-defined]
        ends: dict[Where, int] = {}
        for future, _, _ in pending:
            metadata = future.result()
            where = (metadata.topic, metadata.partition)  # type: ignore[attr-defined]
            ends[where] = max(ends.get(where, 0), metadata.offset + 1)  # type: ignore[attr-defined]
        deadline = time.time() + DRAIN_TIMEOUT_S

        def behind() -> bool:
            return any(not commits.get(p) or commits[p][-1][1] < end for p, end in ends.items())

        while behind() and time.time() < deadline:
            await asyncio.sleep(POLL_S)
    finally:
        stop.set()
        await poller
        await producer.stop()
        await admin.close()
    found, _ = latencies(sends, commits)
    return LatencyResult(
        rate_target=rate,
        seconds=produced_s,
        sent=sent,
        tracked=len(sends),
        measured=len(found),
        p50_s=percentile(found, 0.50),
        p90_s=percentile(found, 0.90),
        p99_s=percentile(found, 0.99),
        max_s=found[-1] if found else float("nan"),
        flushes_seen=flushes,
        worker_cpu_share=cpu_used / produced_s if produced_s else 0.0,
    )
