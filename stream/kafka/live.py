"""The ports of ``stream.kafka.ports`` made of aiokafka's clients, from the settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor

from stream.kafka import clients
from stream.kafka.ports import FetchedRecord, PartitionProducer
from stream.kafka.restore import Restored, restore_store
from stream.settings import Settings
from stream.state.store import PartitionStore


class LiveConsumer:
    """aiokafka's group consumer as an ``InputConsumer``: the calls forwarded, and
    ``fetch_state`` read from its subscription state (``stream.kafka.clients.fetch_state``)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Mapping[TopicPartition, Sequence[FetchedRecord]]:
        fetched: Mapping[TopicPartition, Sequence[FetchedRecord]] = await self._consumer.getmany(
            timeout_ms=timeout_ms, max_records=max_records
        )
        return fetched

    def pause(self, *partitions: TopicPartition) -> None:
        self._consumer.pause(*partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._consumer.resume(*partitions)

    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment())

    async def committed(self, partition: TopicPartition) -> int | None:
        offset: int | None = await self._consumer.committed(partition)
        return offset

    async def seek_to_beginning(self, partition: TopicPartition) -> Any:
        return await self._consumer.seek_to_beginning(partition)

    async def position(self, partition: TopicPartition) -> int:
        return int(await self._consumer.position(partition))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._consumer.seek(partition, offset)

    def fetch_state(self, partition: TopicPartition) -> tuple[int | None, int | None]:
        return clients.fetch_state(self._consumer, partition)


class LiveKafka:
    """The worker's clients made from the settings (``stream.kafka.clients``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def input_consumer(
        self, *, assignor: type[AbstractPartitionAssignor], listener: ConsumerRebalanceListener
    ) -> LiveConsumer:
        return LiveConsumer(clients.input_consumer(self.settings, assignor=assignor, listener=listener))

    def partition_producer(self, partition: int) -> PartitionProducer:
        producer: PartitionProducer = clients.partition_producer(self.settings, partition)
        return producer

    async def restore(self, store: PartitionStore, partition: int) -> Restored:
        return await restore_store(self.settings, store, partition)
