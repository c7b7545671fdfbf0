"""In-memory fakes of the worker's Kafka ports (``stream.kafka.ports``): a broker of partition logs,
group offsets and transactions, and the consumer, producers and restore made of it.

Enough Kafka to drive the runner's loop, checkpoints and rebalances in a unit test, with Kafka's
rules where the worker relies on them:

- a transaction's records and offsets become visible together at its commit; an abort drops both;
  each end of a transaction writes a marker, which takes an offset of every partition it wrote to;
- a ``read_committed`` consumer reads up to the first record of an open transaction, skips markers
  and aborted records, and its position moves past what it skipped at the end of a fetch;
- a producer started with a transactional id fences the one started before it with the same id:
  its next transactional call raises ``ProducerFenced``.

``fail`` injects a failure: the named producer call raises the given error, once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.errors import ProducerFenced

from stream.kafka.restore import Restored
from stream.state.store import PartitionStore

MARKER = "marker"
ABORTED = "aborted"
OPEN = "open"
VISIBLE = "visible"


@dataclass(slots=True)
class Entry:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    state: str = VISIBLE
    transaction: int | None = None


@dataclass(frozen=True, slots=True)
class Metadata:
    offset: int


class FakeBroker:
    def __init__(self) -> None:
        self.logs: dict[TopicPartition, list[Entry]] = {}
        self.group_offsets: dict[TopicPartition, int] = {}
        self.epochs: dict[str, int] = {}
        self.open_transactions: dict[str, list[int]] = {}
        self._transactions = itertools.count(1)

    def log(self, tp: TopicPartition) -> list[Entry]:
        return self.logs.setdefault(tp, [])

    def append(self, tp: TopicPartition, key: bytes | None, value: bytes | None, **entry: Any) -> Entry:
        log = self.log(tp)
        record = Entry(len(log), key, value, **entry)
        log.append(record)
        return record

    def produce(self, topic: str, partition: int, key: bytes, value: bytes) -> int:
        """A record written outside any transaction, visible at once; its offset."""
        return self.append(TopicPartition(topic, partition), key, value).offset

    def produce_in_transaction(self, topic: str, partition: int, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Records of a committed transaction of a producer upstream: they and their marker."""
        tp = TopicPartition(topic, partition)
        for key, value in records:
            self.append(tp, key, value)
        self.append(tp, None, None, state=MARKER)

    def visible(self, tp: TopicPartition) -> list[Entry]:
        """What a ``read_committed`` reader gets of the partition."""
        return [entry for entry in self.log(tp)[: self.stable_end(tp)] if entry.state == VISIBLE]

    def stable_end(self, tp: TopicPartition) -> int:
        """The last stable offset: before the first record of an open transaction."""
        log = self.log(tp)
        return next((entry.offset for entry in log if entry.state == OPEN), len(log))

    def new_transaction(self) -> int:
        return next(self._transactions)

    def end_transaction(self, transaction: int, *, commit: bool) -> None:
        touched = set()
        for tp, log in self.logs.items():
            for entry in log:
                if entry.transaction == transaction and entry.state == OPEN:
                    entry.state = VISIBLE if commit else ABORTED
                    touched.add(tp)
        for tp in touched:
            self.append(tp, None, None, state=MARKER)


class FakeConsumer:
    """An ``InputConsumer`` over the broker. The test decides the assignment (``assign``), which
    calls the listener as a rebalance does."""

    def __init__(self, broker: FakeBroker, listener: ConsumerRebalanceListener) -> None:
        self.broker = broker
        self.listener = listener
        self._assigned: set[TopicPartition] = set()
        self._paused: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self.stopped = False

    async def assign(self, partitions: set[TopicPartition]) -> None:
        await self.listener.on_partitions_revoked(set(self._assigned))
        self._assigned = set(partitions)
        self._paused &= self._assigned
        self._positions = {tp: offset for tp, offset in self._positions.items() if tp in self._assigned}
        await self.listener.on_partitions_assigned(set(partitions))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Mapping[TopicPartition, Sequence[Entry]]:
        fetched: dict[TopicPartition, list[Entry]] = {}
        room = max_records
        for tp in sorted(self._assigned - self._paused):
            if tp not in self._positions or room <= 0:
                continue
            position, records = self._positions[tp], []
            end = self.broker.stable_end(tp)
            while position < end and len(records) < room:
                entry = self.broker.log(tp)[position]
                position += 1
                if entry.state == VISIBLE:
                    records.append(entry)
            self._positions[tp] = position
            if records:
                fetched[tp] = records
                room -= len(records)
        await asyncio.sleep(0 if fetched else min(timeout_ms, 5) / 1000)
        return fetched

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused.difference_update(partitions)

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.broker.group_offsets.get(partition)

    async def seek_to_beginning(self, partition: TopicPartition) -> bool:
        self._positions[partition] = 0
        return True

    async def position(self, partition: TopicPartition) -> int:
        return self._positions[partition]

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._positions[partition] = offset

    def fetch_state(self, partition: TopicPartition) -> tuple[int | None, int | None]:
        if partition not in self._assigned or partition not in self._positions:
            return None, None
        return self._positions[partition], self.broker.stable_end(partition)


class FakeBatch:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: int | None) -> object | None:
        if len(self.records) >= self.limit:
            return None
        self.records.append((key, value))
        return object()


class FakeProducer:
    """A ``PartitionProducer`` of one transactional id, writing to the broker."""

    def __init__(self, broker: FakeBroker, transactional_id: str, *, batch_records: int = 1000) -> None:
        self.broker = broker
        self.transactional_id = transactional_id
        self.batch_records = batch_records
        self.epoch = -1
        self.failures: dict[str, BaseException] = {}
        self.calls: list[str] = []
        self._transaction: int | None = None
        self._offsets: dict[TopicPartition, int] = {}

    def fail(self, call: str, error: BaseException) -> None:
        self.failures[call] = error

    def _call(self, name: str, *, transactional: bool = True) -> None:
        self.calls.append(name)
        if transactional and self.broker.epochs.get(self.transactional_id) != self.epoch:
            raise ProducerFenced()
        error = self.failures.pop(name, None)
        if error is not None:
            raise error

    async def start(self) -> None:
        self.epoch = self.broker.epochs.get(self.transactional_id, -1) + 1
        self.broker.epochs[self.transactional_id] = self.epoch
        for transaction in self.broker.open_transactions.pop(self.transactional_id, []):
            self.broker.end_transaction(transaction, commit=False)  # the former owner's, aborted

    async def stop(self) -> None:
        self.calls.append("stop")

    async def begin_transaction(self) -> None:
        self._call("begin_transaction")
        self._transaction, self._offsets = self.broker.new_transaction(), {}
        self.broker.open_transactions.setdefault(self.transactional_id, []).append(self._transaction)

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_records)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[Metadata]:
        self._call("send_batch")
        tp = TopicPartition(topic, partition)
        first = [self.broker.append(tp, k, v, state=OPEN, transaction=self._transaction) for k, v in batch.records][0]
        return self._resolved(Metadata(first.offset))

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[Metadata]:
        self._call("send")
        tp = TopicPartition(topic, 0)
        entry = self.broker.append(tp, key, value, headers=headers, state=OPEN, transaction=self._transaction)
        return self._resolved(Metadata(entry.offset))

    async def send_offsets_to_transaction(self, offsets: Mapping[TopicPartition, int], group_id: str) -> None:
        self._call("send_offsets_to_transaction")
        self._offsets.update(offsets)

    async def commit_transaction(self) -> None:
        self._call("commit_transaction")
        self._end(commit=True)

    async def abort_transaction(self) -> None:
        self._call("abort_transaction")
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        assert self._transaction is not None, "no transaction begun"
        self.broker.open_transactions[self.transactional_id].remove(self._transaction)
        self.broker.end_transaction(self._transaction, commit=commit)
        if commit:
            self.broker.group_offsets.update(self._offsets)
        self._transaction, self._offsets = None, {}

    @staticmethod
    def _resolved(metadata: Metadata) -> asyncio.Future[Metadata]:
        future: asyncio.Future[Metadata] = asyncio.get_running_loop().create_future()
        future.set_result(metadata)
        return future


class FakeKafka:
    """A ``Kafka`` of one worker over the broker: its consumer, its producers (kept, for the test
    to look at or to make fail), and a restore that reads the committed changelog."""

    def __init__(self, broker: FakeBroker, *, app_id: str, changelog: str) -> None:
        self.broker = broker
        self.app_id = app_id
        self.changelog = changelog
        self.consumer: FakeConsumer | None = None
        self.producers: dict[int, FakeProducer] = {}

    def input_consumer(
        self, *, assignor: type[AbstractPartitionAssignor], listener: ConsumerRebalanceListener
    ) -> FakeConsumer:
        self.consumer = FakeConsumer(self.broker, listener)
        return self.consumer

    def partition_producer(self, partition: int) -> FakeProducer:
        self.producers[partition] = FakeProducer(self.broker, f"{self.app_id}-state-{partition}")
        return self.producers[partition]

    async def restore(self, store: PartitionStore, partition: int) -> Restored:
        tp = TopicPartition(self.changelog, partition)
        start, end = store.changelog_next(), self.broker.stable_end(tp)
        records = [entry for entry in self.broker.visible(tp) if start <= entry.offset < end]
        if end != start:
            store.write(((entry.key or b"", entry.value) for entry in records), end)
        return Restored(len(records), 0.0, False)
