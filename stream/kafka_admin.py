"""Topic creation and offset look-ups with aiokafka: the worker's set-up and ``--drain``'s check."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from stream.settings import ConfigError, Settings

REQUEST_TIMEOUT_MS = 15_000


class BrokerUnavailable(RuntimeError):
    """The broker did not answer; the message names it."""


@contextlib.asynccontextmanager
async def reaching_broker(settings: Settings) -> AsyncIterator[None]:
    """Turn a failed bootstrap into ``BrokerUnavailable``; aiokafka's own error log is held back,
    since the message raised here says the same in one line."""
    log = logging.getLogger("aiokafka")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    except KafkaConnectionError:
        raise BrokerUnavailable(f"cannot reach the Kafka broker at {settings.broker_bootstrap}") from None
    finally:
        log.setLevel(level)


async def _start_admin(settings: Settings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.broker_bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS)
    async with reaching_broker(settings):
        await admin.start()
    return admin


#: The state changelog keeps the newest record of each key (a user's state, or a chunk of its ids).
COMPACTED = {"cleanup.policy": "compact"}


async def ensure_topics(settings: Settings, topics: Iterable[str], *, compacted: bool = False) -> None:
    """Create missing topics with ``settings.partitions``; refuse input topics of another size,
    since per-user state needs every input topic partitioned alike (co-partitioning)."""
    admin = await _start_admin(settings)
    try:
        wanted = list(dict.fromkeys(topics))
        existing = await _partition_counts(admin, wanted)
        missing = [t for t in wanted if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker created it meanwhile
                await admin.create_topics(
                    [
                        NewTopic(
                            t,
                            settings.partitions,
                            settings.replication_factor,
                            topic_configs=COMPACTED if compacted else {},
                        )
                        for t in missing
                    ]
                )
        for topic, count in existing.items():
            if (topic in settings.consumed_topics or compacted) and count != settings.partitions:
                raise ConfigError(
                    f"topic {topic} has {count} partitions but SFERUM_PARTITIONS is {settings.partitions}; "
                    "all input topics must have the same number of partitions"
                )
    finally:
        await admin.close()


async def _partition_counts(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int]:
    described = await admin.describe_topics(topics)
    counts = {}
    for item in described:
        if item.get("error_code", 0) == 0 and item.get("partitions"):
            counts[item["topic"]] = len(item["partitions"])
    return counts


async def end_offsets(settings: Settings, topics: Iterable[str]) -> dict[TopicPartition, tuple[int, int]]:
    """(beginning, end) offsets of every partition of the topics, now."""
    admin = await _start_admin(settings)
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    tps = [
        TopicPartition(item["topic"], p["partition"])
        for item in described
        if item.get("error_code", 0) == 0
        for p in item.get("partitions", ())
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.broker_bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS)
    await consumer.start()
    try:
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        return {tp: (begin[tp], end[tp]) for tp in sorted(tps)}
    finally:
        await consumer.stop()


async def committed_offsets(settings: Settings, group: str) -> dict[TopicPartition, int]:
    admin = await _start_admin(settings)
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    except KafkaError:
        return {}
    finally:
        await admin.close()
