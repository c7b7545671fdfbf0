"""Reading a topic up to where it ends when the reading starts, with a plain consumer (no group).

Every reader of the dead-letter topic reads ``read_committed``: the worker may write dead letters
inside Kafka transactions, and the letters of an aborted transaction are written again by the
next attempt, so reading them too would count them twice. The end of each partition is taken
when the reading starts (for ``read_committed`` the last stable offset): letters written while a
command runs, such as those of events it sends back that are rejected again, are not read.

Offsets are not contiguous in such topics (transaction markers and aborted records take offsets
that no reader receives), so a partition is read until the consumer's position reaches its end,
never by counting records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stream.kafka.admin import BrokerUnavailable, reaching_broker
from stream.kafka.clients import connection
from stream.settings import Settings

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_MS = 15_000
FETCH_TIMEOUT_MS = 500
#: A reading that gets no record and no progress of its position for this long gives up.
STALL_TIMEOUT_S = 60.0
Isolation = Literal["read_committed", "read_uncommitted"]


class MissingTopic(LookupError):
    """The topic does not exist on the broker; the message names it."""


@dataclass(frozen=True, slots=True)
class Span:
    """The offsets a reading covers in one partition: from ``start`` up to ``end`` (excluded)."""

    start: int
    end: int


async def partition_counts(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Partitions of each of the topics that exists. (Only existing topics are described: aiokafka
    asks for topic metadata allowing auto-creation, and a broker with ``auto.create.topics.enable``
    would create a missing one, e.g. a mistyped dead-letter topic, with its default partitions.)"""
    admin = AIOKafkaAdminClient(**connection(settings, request_timeout_ms=REQUEST_TIMEOUT_MS))
    try:
        async with reaching_broker(settings):
            await admin.start()
        existing = set(await admin.list_topics())
        wanted = [topic for topic in topics if topic in existing]
        described = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    return {
        item["topic"]: len(item["partitions"])
        for item in described
        if item.get("error_code", 0) == 0 and item.get("partitions")
    }


class TopicReader:
    """A consumer without a group, for reading partitions between given offsets.

    Use as ``async with TopicReader(settings) as reader:``; ``spans`` plans a reading,
    ``read`` does it."""

    def __init__(self, settings: Settings, *, isolation: Isolation = "read_committed") -> None:
        self.settings = settings
        self._consumer = AIOKafkaConsumer(
            **connection(settings, request_timeout_ms=REQUEST_TIMEOUT_MS),
            group_id=None,
            enable_auto_commit=False,
            isolation_level=isolation,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=2 * 1024 * 1024,  # a dead letter carries up to 512 KiB
        )

    async def __aenter__(self) -> TopicReader:
        try:
            async with reaching_broker(self.settings):
                await self._consumer.start()
        except BaseException:
            await self._consumer.stop()  # a failed start leaves the client open
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def partitions(self, topic: str) -> list[TopicPartition]:
        """Every partition of the topic; ``MissingTopic`` if there is no such topic."""
        count = (await partition_counts(self.settings, [topic])).get(topic, 0)
        if not count:
            raise MissingTopic(f"there is no topic {topic} at {self.settings.broker_bootstrap}")
        return [TopicPartition(topic, p) for p in range(count)]

    async def ends(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """End offsets now (for ``read_committed``, the last stable offsets)."""
        return dict(await self._consumer.end_offsets(tps)) if tps else {}

    async def spans(self, tps: list[TopicPartition], *, since_ms: int | None = None) -> dict[TopicPartition, Span]:
        """From each partition's first record (with ``since_ms``: its first record with a
        timestamp at or after it) to its end now."""
        begin = await self._consumer.beginning_offsets(tps)
        end = await self.ends(tps)
        start = dict(begin)
        if since_ms is not None:
            found = await self._consumer.offsets_for_times({tp: since_ms for tp in tps})
            for tp in tps:
                hit = found.get(tp)
                start[tp] = max(begin[tp], hit.offset) if hit is not None else end[tp]
        return {tp: Span(start[tp], end[tp]) for tp in tps}

    async def read(
        self, spans: Mapping[TopicPartition, Span], on_progress: Callable[[int], None] = lambda n: None
    ) -> AsyncIterator[list[Any]]:
        """Batches of ``ConsumerRecord`` in offset order per partition, until every partition's
        position reaches its span's end. ``on_progress`` gets the offsets passed (records,
        markers and aborted records alike), which add up to the spans' sizes."""
        consumer = self._consumer
        todo = {tp: span for tp, span in spans.items() if span.start < span.end}
        on_progress(sum(span.end - span.start for tp, span in spans.items() if tp not in todo))
        if not todo:
            return
        consumer.assign(list(todo))
        position: dict[TopicPartition, int] = {}
        for tp, span in todo.items():
            consumer.seek(tp, span.start)
            position[tp] = span.start
        loop = asyncio.get_running_loop()
        last_progress = loop.time()
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=FETCH_TIMEOUT_MS)
            for tp, records in batch.items():
                inside = [r for r in records if r.offset < todo[tp].end] if tp in todo else []
                if inside:
                    yield inside
            moved = 0
            for tp in list(todo):
                now_at = min(await consumer.position(tp), todo[tp].end)
                moved += now_at - position[tp]
                position[tp] = now_at
                if now_at >= todo[tp].end:
                    del todo[tp]
                    consumer.pause(tp)
            if moved:
                on_progress(moved)
                last_progress = loop.time()
            elif loop.time() - last_progress > STALL_TIMEOUT_S:
                stuck = ", ".join(f"{tp.topic}[{tp.partition}] at {position[tp]}" for tp in todo)
                raise BrokerUnavailable(f"reading stopped making progress for {STALL_TIMEOUT_S:.0f} s: {stuck}")
