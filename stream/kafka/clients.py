"""The worker's Kafka clients, built from the settings in one place: the group consumer of the
input topics, a partition's transactional producer, the changelog reader."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor

from stream.settings import Settings

REQUEST_TIMEOUT_MS = 30_000
#: Records of the changelog are at most 256 KiB (``stream.state.codec``), dead letters at most
#: 512 KiB (``stream.kafka.deadletters``): a request must hold the largest of them.
MAX_REQUEST_BYTES = 2 * 1024 * 1024
BATCH_BYTES = 512 * 1024


def connection(settings: Settings) -> dict[str, Any]:
    """What every client needs to reach the cluster."""
    return {"bootstrap_servers": settings.broker_bootstrap, "request_timeout_ms": REQUEST_TIMEOUT_MS}


def changelog_topic(settings: Settings) -> str:
    return f"{settings.app_id}-state-changelog"


def input_consumer(
    settings: Settings, *, assignor: type[AbstractPartitionAssignor], listener: ConsumerRebalanceListener
) -> AIOKafkaConsumer:
    """The group member that reads the input topics. It never commits by itself: offsets go into
    each partition's transaction (``stream.kafka.checkpoint``). ``read_committed``: records of an
    aborted transaction of a producer upstream are not events."""
    consumer = AIOKafkaConsumer(
        **connection(settings),
        group_id=settings.app_id,
        group_instance_id=settings.instance_id or None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        partition_assignment_strategy=(assignor,),
        max_partition_fetch_bytes=1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
        max_poll_records=5_000,  # what one getmany hands over (stream.kafka.runner.FETCH_MAX_RECORDS)
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=int(settings.session_timeout_s * 1000 / 4),
        max_poll_interval_ms=300_000,
        rebalance_timeout_ms=120_000,
    )
    consumer.subscribe(list(settings.consumed_topics), listener=listener)
    return consumer


def partition_producer(settings: Settings, partition: int) -> AIOKafkaProducer:
    """The producer of one partition's changelog records, dead letters and input offsets, all in
    one transaction per checkpoint. Its transactional id is the partition's: the next owner of
    the partition starts one with the same id, which fences this one (its open transaction is
    aborted, its next send refused)."""
    return AIOKafkaProducer(
        **connection(settings),
        transactional_id=f"{settings.app_id}-state-{partition}",
        enable_idempotence=True,
        acks="all",
        linger_ms=int(settings.producer_linger_s * 1000),
        max_batch_size=BATCH_BYTES,
        max_request_size=MAX_REQUEST_BYTES,
        transaction_timeout_ms=int(settings.transaction_timeout_s * 1000),
    )


def changelog_reader(settings: Settings) -> AIOKafkaConsumer:
    """Reads a changelog partition at a restore: no group, committed transactions only."""
    return AIOKafkaConsumer(
        **connection(settings),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )


def tps(topics: Iterable[str], partition: int) -> list[TopicPartition]:
    return [TopicPartition(topic, partition) for topic in topics]


def fetch_state(consumer: AIOKafkaConsumer, tp: TopicPartition) -> tuple[int | None, int | None]:
    """The partition's position (the next offset the consumer will hand over) and its end as of
    the last fetch (the last stable offset, read_committed), without waiting: (None, None) when
    not known yet. aiokafka's ``position()`` waits for a position, and ``last_stable_offset()``
    asserts the partition is assigned; this reads the same fields of aiokafka's subscription
    state (aiokafka is pinned to the version this was written for)."""
    subscription = consumer._subscription.subscription
    if subscription is None or subscription.assignment is None:
        return None, None
    try:
        state = subscription.assignment.state_value(tp)
    except (KeyError, AssertionError):
        return None, None
    if state is None or not state.has_valid_position:
        return None, None
    end = state.lso if state.lso is not None and state.lso >= 0 else state.highwater
    return state.position, end
