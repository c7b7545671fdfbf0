"""One partition number owned by this worker: its input partitions, state, producer and buffers.

A task is created when the group assigns its partition and lives until the next rebalance. It
starts *restoring* (its input partitions paused): its producer fences any former owner, its local
store catches up with the changelog, its input partitions are sought to the committed offsets.
Then it *runs*: fetched records are buffered (``merge``), applied in event-time order, and their
effects wait for the next checkpoint (``stream.kafka.checkpoint``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from stream.core.batch import DeadLetter, Decoded
from stream.kafka.align import Merge
from stream.kafka.ports import PartitionProducer
from stream.state.store import PartitionStore
from stream.state.users import PartitionUsers


@dataclass(eq=False)
class PartitionTask:
    number: int
    tps: list[TopicPartition]  # the input topics' partitions, in the order of the settings
    users: PartitionUsers
    merge: Merge[TopicPartition, Decoded]
    producer: PartitionProducer | None = None
    running: bool = False
    #: Per input topic: the offset after the last record applied (what the next commit says).
    next_offset: dict[str, int] = field(default_factory=dict)
    #: Per input partition: the offset after the last record buffered.
    fetched_next: dict[TopicPartition, int] = field(default_factory=dict)
    #: Per input topic: the offset the last committed transaction recorded.
    committed: dict[str, int] = field(default_factory=dict)
    #: Input partitions paused because their buffer is full.
    paused: set[TopicPartition] = field(default_factory=set)
    letters: list[DeadLetter] = field(default_factory=list)
    events_since_commit: int = 0
    restoring: asyncio.Task[None] | None = None

    @property
    def store(self) -> PartitionStore:
        return self.users.store

    def offsets_to_commit(self) -> dict[TopicPartition, int]:
        return {
            TopicPartition(topic, self.number): offset
            for topic, offset in self.next_offset.items()
            if offset != self.committed.get(topic)
        }

    def has_uncommitted(self) -> bool:
        return bool(self.users.dirty or self.letters or self.offsets_to_commit())
