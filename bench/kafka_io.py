"""The benchmark's own Kafka work: a fresh topic filled from a file, the raw consume-and-decode
limit (L), and removing the run's topics afterwards. aiokafka, as the worker uses."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.decode import Rejection, decode
from stream.kafka.admin import end_offsets
from stream.kafka.clients import connection_to
from stream.settings import Settings, load_settings
from stream.tools.produce import produce_files


def bench_settings(broker: str, topic: str, partitions: int, prefix: str, workdir: Path) -> Settings:
    """Settings for the in-process steps (produce, offsets): the bench's topic and nothing else."""
    return load_settings(
        broker=broker,
        input_topics=(topic,),
        dead_letter_topic=f"{prefix}.dead-letter",
        partitions=partitions,
        store=f"chdb://{workdir / 'unused-store'}",
    )


@dataclass(frozen=True)
class Timed:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def produce(settings: Settings, path: Path, topic: str) -> Timed:
    """``sferum-kpi produce``'s code path: idempotent producer, acks=all, keyed by user_id."""
    started = time.perf_counter()
    sent = asyncio.run(produce_files(settings, [path], topic=topic))
    return Timed(sum(sent.values()), time.perf_counter() - started)


def topic_offsets(settings: Settings, topic: str) -> dict[TopicPartition, tuple[int, int]]:
    return asyncio.run(end_offsets(settings, [topic]))


def consume(broker: str, offsets: dict[TopicPartition, tuple[int, int]], *, decode_values: bool) -> Timed:
    """Read every partition from its beginning to its end offset, as one consumer without a group;
    with ``decode_values``, decode each message as the worker does (key checked). The fetch sizes
    are the worker's (Faust: 1 MiB per partition, no record limit), which are aiokafka's defaults."""
    return asyncio.run(_consume(broker, offsets, decode_values))


async def _consume(broker: str, offsets: dict[TopicPartition, tuple[int, int]], decode_values: bool) -> Timed:
    consumer = AIOKafkaConsumer(**connection_to(broker), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        events = 0
        rejected = 0
        started = time.perf_counter()
        async for records in read_all(consumer, offsets):
            if decode_values:
                now_ms = int(time.time() * 1000)
                for record in records:
                    event = decode(record.value or b"", now_ms=now_ms, key=record.key, check_key=True)
                    rejected += isinstance(event, Rejection)
            events += len(records)
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    if rejected:
        raise RuntimeError(f"{rejected} generated events did not decode: the bench data is wrong")
    return Timed(events, seconds)


async def read_all(
    consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, tuple[int, int]]
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """The records of every partition from its beginning to its end offset, a fetched batch at a
    time, with a started consumer without a group. Done with a partition once its position
    reaches the end offset (read_committed, transaction markers take offsets too)."""
    todo = {tp: end for tp, (begin, end) in offsets.items() if end > begin}
    consumer.assign(list(offsets))
    for tp, (begin, _) in offsets.items():
        consumer.seek(tp, begin)
    while todo:
        batches = await consumer.getmany(timeout_ms=1000)
        for records in batches.values():
            yield records
        for tp in list(todo):
            if await consumer.position(tp) >= todo[tp]:
                del todo[tp]


def delete_topics(broker: str, marker: str) -> list[str]:
    """Delete every topic whose name contains ``marker`` (the run id): inputs, dead letters, the
    changelogs and internal topics of Faust and Quix."""
    return asyncio.run(_delete_topics(broker, marker))


async def _delete_topics(broker: str, marker: str) -> list[str]:
    admin = AIOKafkaAdminClient(**connection_to(broker))
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if marker in t)
        if names:
            with contextlib.suppress(Exception):  # best effort: the broker is the bench's own
                await admin.delete_topics(names)
        return names
    finally:
        await admin.close()
