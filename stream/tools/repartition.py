"""``repartition``: copy the input topics into new topics with another number of partitions.

The partition count of the input topics cannot simply be raised: a user's state lives in the
partition its key hashes to, and Kafka would send the user's next events to another one. Instead,
new topics are made with the new count and the input is copied into them, record by record, with
the same key, value, headers and timestamp; a new consumer group (a new ``SFERUM_APP_ID``) then
counts them from the start (docs/operations.md, "Moving to more partitions").

The copy is exact and can be run again: it reads the source topics ``read_committed`` and writes
each batch in one Kafka transaction together with the source offsets it reaches, committed for
the copy's own group (``<app id>-repartition<suffix>``). A second run copies only what came since
the first (the tail written before the producers were switched to the new topics), and a copy that
is interrupted leaves no record twice. Every record of a key is in one source partition, read in
offset order and sent in that order (an idempotent producer) to the one target partition the key
hashes to: each user's events keep their order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata

from stream.kafka.admin import committed_offsets, end_offsets, ensure_topics, reaching_broker
from stream.kafka.clients import BATCH_BYTES, MAX_REQUEST_BYTES, connection
from stream.settings import ConfigError, Settings

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
#: Records copied in one transaction (at most; one fetch).
BATCH_RECORDS = 5_000
FETCH_TIMEOUT_MS = 500
TRANSACTION_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class CopyPlan:
    #: source topic -> target topic
    targets: dict[str, str]
    partitions: int
    #: the consumer group whose committed offsets say how far the copy went; also its transactional id
    group: str


def plan_copy(settings: Settings, *, partitions: int, suffix: str) -> CopyPlan:
    """The copy of ``settings``' input topics to ``<topic><suffix>`` with ``partitions`` partitions."""
    if not 1 <= partitions <= 1024:
        raise ConfigError(f"--partitions must be 1 to 1024, not {partitions}")
    if not suffix or not _TOPIC.match(suffix):
        raise ConfigError(f"--suffix must be letters, digits, '.', '_' or '-', not {suffix!r}")
    targets = {topic: f"{topic}{suffix}" for topic in settings.consumed_topics}
    for target in targets.values():
        if not _TOPIC.match(target):
            raise ConfigError(f"the target topic {target!r} is not a valid topic name (too long?)")
    return CopyPlan(targets=targets, partitions=partitions, group=f"{settings.app_id}-repartition{suffix}")


async def copy_topics(
    settings: Settings, plan: CopyPlan, *, on_progress: Callable[[int], None] = lambda n: None
) -> Counter[str]:
    """Copy what the source topics hold now and the copy has not copied yet; returns records
    copied per source topic. The target topics are made with ``plan.partitions`` (one of another
    size is refused: ``ConfigError``)."""
    sources = list(plan.targets)
    target_settings = settings.model_copy(
        update={"partitions": plan.partitions, "input_topics": tuple(plan.targets.values())}
    )
    await ensure_topics(target_settings, plan.targets.values())
    ends = {tp: end for tp, (_, end) in (await end_offsets(settings, sources)).items()}
    done = await committed_offsets(settings, plan.group)
    if not done:
        held = sum(end - begin for begin, end in (await end_offsets(settings, plan.targets.values())).values())
        if held:
            raise ConfigError(
                f"the target topics already hold {held} records that no copy by {plan.group} made: "
                "delete them (or choose another --suffix) and copy again"
            )
    todo = {tp: end for tp, end in ends.items() if done.get(tp, 0) < end}
    copied: Counter[str] = Counter()
    if not todo:
        return copied
    consumer = AIOKafkaConsumer(
        **connection(settings),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=MAX_REQUEST_BYTES,
    )
    producer = AIOKafkaProducer(
        **connection(settings),
        transactional_id=plan.group,
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        max_batch_size=BATCH_BYTES,
        max_request_size=MAX_REQUEST_BYTES,
        transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
    )
    async with reaching_broker(settings):
        await consumer.start()
        await producer.start()
    try:
        consumer.assign(list(todo))
        for tp in todo:
            if tp in done:
                consumer.seek(tp, done[tp])
            else:
                await consumer.seek_to_beginning(tp)
        while todo:
            fetched = await consumer.getmany(*todo, timeout_ms=FETCH_TIMEOUT_MS, max_records=BATCH_RECORDS)
            reached = {tp: await consumer.position(tp) for tp in todo}
            if fetched or any(reached[tp] > done.get(tp, 0) for tp in todo):
                async with producer.transaction():
                    for tp, records in fetched.items():
                        target = plan.targets[tp.topic]
                        for record in records:
                            await producer.send(
                                target,
                                record.value,
                                key=record.key,
                                headers=list(record.headers),
                                timestamp_ms=record.timestamp,
                            )
                        copied[tp.topic] += len(records)
                    offsets = {tp: OffsetAndMetadata(offset, "") for tp, offset in reached.items()}
                    await producer.send_offsets_to_transaction(offsets, plan.group)
                done |= reached
                on_progress(sum(len(records) for records in fetched.values()))
            todo = {tp: end for tp, end in todo.items() if reached[tp] < end}
    finally:
        await consumer.stop()
        await producer.stop()
    return copied
