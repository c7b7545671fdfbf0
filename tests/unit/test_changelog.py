"""``stream.changelog.ChangelogWriter``: the state's changelog goes out as record batches per
partition, each batch's future is kept for the flush, and the store's persisted offset moves to
the last message of a batch once the broker has acknowledged it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from stream.changelog import ChangelogWriter

TOPIC = "app-user-state-changelog"


class Batch:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.messages: list[tuple[bytes, bytes]] = []

    def append(self, *, key: bytes, value: bytes, timestamp: Any) -> object | None:
        if len(self.messages) >= self.capacity and self.messages:
            return None  # full (a first message always fits)
        self.messages.append((key, value))
        return object()


class Producer:
    """Batches of ``capacity`` messages; each submitted batch gets a future resolved by the test."""

    def __init__(self, capacity: int, *, refuse: bool = False) -> None:
        self.capacity = capacity
        self.refuse = refuse
        self.submitted: list[tuple[int, list[tuple[bytes, bytes]], asyncio.Future[Any]]] = []

    def create_batch(self) -> Batch:
        return Batch(self.capacity)

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        assert topic == TOPIC
        if self.refuse:
            raise RuntimeError("producer closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.submitted.append((partition, batch.messages, future))
        return future


class Store:
    def __init__(self) -> None:
        self.persisted: dict[TP, int] = {}

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        self.persisted[tp] = offset


def writer_for(producer: Producer) -> tuple[ChangelogWriter, Store]:
    store = Store()
    table = SimpleNamespace(data=store, changelog_topic=SimpleNamespace(get_topic_name=lambda: TOPIC))
    return ChangelogWriter(table, lambda: producer), store


def test_batches_per_partition_split_when_full_and_offsets_persist_on_acknowledgement() -> None:
    async def scenario() -> None:
        producer = Producer(capacity=2)
        writer, store = writer_for(producer)
        for key in (b"a", b"b", b"c"):
            writer.add(0, key, b"v" + key)
        writer.add(3, b"d", b"vd")
        await writer.send()
        assert [(p, m) for p, m, _ in producer.submitted] == [
            (0, [(b"a", b"va"), (b"b", b"vb")]),
            (0, [(b"c", b"vc")]),
            (3, [(b"d", b"vd")]),
        ]
        sent = writer.take_sent()
        assert sent == [f for _, _, f in producer.submitted] and writer.take_sent() == []
        # the broker acknowledges: base offsets 40 and 42 on partition 0, 7 on partition 3
        for (_, _, future), base in zip(producer.submitted, (40, 42, 7), strict=True):
            future.set_result(SimpleNamespace(offset=base))
        await asyncio.sleep(0)  # done callbacks run
        assert store.persisted == {TP(TOPIC, 0): 42, TP(TOPIC, 3): 7}
        await writer.send()  # nothing added since: nothing sent
        assert len(producer.submitted) == 3

    asyncio.run(scenario())


def test_a_failed_batch_leaves_the_persisted_offset_and_fails_its_future() -> None:
    async def scenario() -> None:
        producer = Producer(capacity=10)
        writer, store = writer_for(producer)
        writer.add(1, b"a", b"va")
        await writer.send()
        [future] = writer.take_sent()
        future.set_exception(RuntimeError("not enough replicas"))
        await asyncio.sleep(0)
        assert store.persisted == {}

        refusing = Producer(capacity=10, refuse=True)
        writer, store = writer_for(refusing)
        writer.add(1, b"a", b"va")
        await writer.send()  # does not raise: the flush waiting for it sees the failure
        [failed] = writer.take_sent()
        with pytest.raises(RuntimeError, match="producer closed"):
            await failed

    asyncio.run(scenario())


def test_settle_waits_for_every_batch_sent_even_those_a_flush_took() -> None:
    async def scenario() -> None:
        producer = Producer(capacity=1)
        writer, store = writer_for(producer)
        writer.add(0, b"a", b"va")
        writer.add(0, b"b", b"vb")
        await writer.send()
        writer.take_sent()  # a flush has taken them and waits for them too
        settle = asyncio.create_task(writer.settle(timeout=5.0))
        (_, _, first), (_, _, second) = producer.submitted
        first.set_result(SimpleNamespace(offset=10))
        await asyncio.sleep(0.01)
        assert not settle.done()
        second.set_exception(RuntimeError("not enough replicas"))  # refused: the flush sees it
        assert await settle is True
        assert store.persisted == {TP(TOPIC, 0): 10}  # recorded before settle returned

        writer.add(0, b"c", b"vc")
        await writer.send()
        assert await writer.settle(timeout=0.05) is False  # never acknowledged

    asyncio.run(scenario())
