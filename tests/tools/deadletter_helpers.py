"""Processes and Kafka probes for the dead-letter tools' end-to-end tests: a running worker whose
``/metrics`` are read, a redrive that can be killed, topics read back with their headers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.paths import CLI, ROOT
from tests.support.readers import scrape_metrics


def wait_for(what: str, predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Process:
    """``python -m stream ARGS`` with only the given SFERUM_* settings, output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_")}
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen([*CLI, *args], env=clean | env, cwd=ROOT, stdout=self._out, stderr=self._out)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.alive:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(30)
        self._out.close()
        return code

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_bytes()[-chars:].decode(errors="replace")


def metric(port: int, sample: str, **labels: str) -> float:
    """The sum of a sample of a worker's /metrics over the series with these labels."""
    total = 0.0
    for samples in scrape_metrics(port).values():
        for s in samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def rejected_by_reason(port: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for s in scrape_metrics(port).get("sferum_events_rejected", []):
        if s.name == "sferum_events_rejected_total" and s.value:
            found[s.labels["reason"]] = int(s.value)
    return found


@dataclass(frozen=True)
class Kafka:
    broker: str

    def _run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run(coro)

    def end_offsets(self, topic: str) -> dict[int, int]:
        async def run() -> dict[int, int]:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.broker)
            await admin.start()
            try:  # describe_topics alone would create a missing topic (auto.create.topics.enable)
                assert topic in await admin.list_topics(), f"no topic {topic}"
                (described,) = await admin.describe_topics([topic])
            finally:
                await admin.close()
            consumer = AIOKafkaConsumer(bootstrap_servers=self.broker)
            await consumer.start()
            try:
                tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
                ends = await consumer.end_offsets(tps)
            finally:
                await consumer.stop()
            return {tp.partition: offset for tp, offset in ends.items()}

        return self._run(run())

    def committed(self, group: str) -> dict[tuple[str, int], int]:
        async def run() -> dict[tuple[str, int], int]:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.broker)
            await admin.start()
            try:
                offsets = await admin.list_consumer_group_offsets(group)
            finally:
                await admin.close()
            return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

        return self._run(run())

    def drained(self, group: str, topic: str) -> bool:
        """The group has committed every partition of the topic up to its end."""
        done = self.committed(group)
        return all(done.get((topic, p), 0) >= end for p, end in self.end_offsets(topic).items())

    def read(
        self, topic: str, *, starts: dict[int, int] | None = None, isolation: str = "read_committed"
    ) -> list[tuple[int, int, bytes | None, bytes, dict[str, str]]]:
        """(partition, offset, key, value, headers) of every record up to the ends now."""
        ends = self.end_offsets(topic)

        async def run() -> list[tuple[int, int, bytes | None, bytes, dict[str, str]]]:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.broker, group_id=None, isolation_level=isolation, enable_auto_commit=False
            )
            await consumer.start()
            got = []
            try:
                tps = [TopicPartition(topic, p) for p in ends]
                consumer.assign(tps)
                for tp in tps:
                    consumer.seek(tp, (starts or {}).get(tp.partition, 0))
                deadline = time.monotonic() + 120
                while [tp for tp in tps if await consumer.position(tp) < ends[tp.partition]]:
                    assert time.monotonic() < deadline, f"could not read {topic} to its end"
                    batch = await consumer.getmany(timeout_ms=500)
                    for tp, records in batch.items():
                        for r in records:
                            if r.offset < ends[tp.partition]:
                                headers = {k: v.decode() for k, v in r.headers}
                                got.append((tp.partition, r.offset, r.key, r.value, headers))
            finally:
                await consumer.stop()
            return got

        return self._run(run())

    def send(self, topic: str, messages: list[tuple[bytes, bytes]] | list[tuple[bytes, bytes, list]]) -> None:  # type: ignore[type-arg]
        """(key, value) or (key, value, headers), in order, to the partition of the key."""
        self.send_to_partitions(topic, [(None, *m) for m in messages])  # type: ignore[misc]

    def send_to_partitions(self, topic: str, messages: list[tuple]) -> None:  # type: ignore[type-arg]
        """(partition or None, key, value[, headers]), in order."""

        async def run() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.broker, enable_idempotence=True, acks="all")
            await producer.start()
            try:
                for partition, key, value, *headers in messages:
                    await producer.send_and_wait(
                        topic, value, key=key, partition=partition, headers=headers[0] if headers else None
                    )
            finally:
                await producer.stop()

        self._run(run())
