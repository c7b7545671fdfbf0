"""What the worker's input path needs of Kafka, as typed protocols.

The runner (``stream.kafka.runner``), a task's start (``stream.kafka.lifecycle``) and the commit
protocol (``stream.kafka.checkpoint``) are written against these, not against aiokafka's classes:
``stream.kafka.live`` makes them of aiokafka's clients, and the unit tests give in-memory fakes
(``tests/support/fake_kafka.py``) that drive the loop, the checkpoints and the rebalances without
a broker. Each method is named and shaped as aiokafka's, so that the real client fits as it is
wherever aiokafka has the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor

from stream.state.store import PartitionStore

if TYPE_CHECKING:
    from stream.kafka.restore import Restored


class FetchedRecord(Protocol):
    """A record as the consumer hands it over."""

    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


class InputConsumer(Protocol):
    """The group member that reads the input topics (``read_committed``, never committing by
    itself: offsets go into each partition's transaction)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def getmany(self, *, timeout_ms: int, max_records: int) -> Mapping[TopicPartition, Sequence[FetchedRecord]]:
        """What was fetched since the last call, per partition, in offset order; waits at most
        ``timeout_ms`` for something."""
        ...

    def pause(self, *partitions: TopicPartition) -> None: ...
    def resume(self, *partitions: TopicPartition) -> None: ...
    def assignment(self) -> set[TopicPartition]: ...
    async def committed(self, partition: TopicPartition) -> int | None:
        """The group's committed offset of the partition; None: nothing committed yet."""
        ...

    async def seek_to_beginning(self, partition: TopicPartition) -> Any: ...
    async def position(self, partition: TopicPartition) -> int: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def fetch_state(self, partition: TopicPartition) -> tuple[int | None, int | None]:
        """The partition's position and its end as of the last fetch, without waiting; (None,
        None) when not known yet."""
        ...


class RecordBatch(Protocol):
    def append(self, *, key: bytes | None, value: bytes | None, timestamp: int | None) -> object | None:
        """Adds the record; None when the batch is full (the record is then not in it)."""
        ...


class PartitionProducer(Protocol):
    """One partition's transactional producer: its changelog records, dead letters and input
    offsets, one transaction per checkpoint. Starting it fences the partition's former owner."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def begin_transaction(self) -> None: ...
    async def commit_transaction(self) -> None: ...
    async def abort_transaction(self) -> None: ...
    async def send_offsets_to_transaction(self, offsets: Mapping[TopicPartition, int], group_id: str) -> None: ...
    def create_batch(self) -> RecordBatch: ...
    async def send_batch(self, batch: RecordBatch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        """The future resolves to the batch's metadata (``.offset``: of its first record) once
        the broker has it."""
        ...

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[Any]: ...


class Kafka(Protocol):
    """Makes the worker's clients, and restores a partition's local store from its changelog."""

    def input_consumer(
        self, *, assignor: type[AbstractPartitionAssignor], listener: ConsumerRebalanceListener
    ) -> InputConsumer: ...

    def partition_producer(self, partition: int) -> PartitionProducer: ...

    async def restore(self, store: PartitionStore, partition: int) -> Restored: ...
