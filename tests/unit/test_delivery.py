"""``stream.delivery``: the fetch loop hands each fetch of the input topics to the sink as one
batch, skips what was read before a seek back, and leaves other topics to Faust's conductor.
(Which messages are still current is the pipeline's to judge: tests/unit/test_pipeline_flush.py.)"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from stream.delivery import BulkDelivery

EVENTS_0 = TP("events", 0)
EVENTS_1 = TP("events", 1)
OTHER = TP("other", 0)


class Msg(SimpleNamespace):
    tp: TP
    offset: int


class Flag:
    def __init__(self) -> None:
        self.value = False

    def is_set(self) -> bool:
        return self.value

    def set(self) -> None:
        self.value = True

    async def wait(self) -> None:
        while not self.value:
            await asyncio.sleep(0.01)


class Sink:
    topics = frozenset({"events"})

    def __init__(self) -> None:
        self.batches: list[list[tuple[TP, int]]] = []

    async def deliver(self, messages: Sequence[Any]) -> None:
        self.batches.append([(m.tp, m.offset) for m in messages])


class FakeConsumer(BulkDelivery):
    """What the fetch loop uses of Faust's consumer; each ``getmany`` serves the next fetch."""

    consumer_stopped_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, fetches: list[list[tuple[TP, int]]], sink: Sink) -> None:
        self.app = SimpleNamespace(bulk_sink=sink, consumer_generation_id=1, should_stop=False)
        self.transport = SimpleNamespace(app=self.app)
        self._fetches = fetches
        self._stopped = Flag()
        self.suspend_flow = Flag()
        self.flow_active = True
        self.should_stop = False
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self.conducted: list[tuple[TP, int]] = []

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Msg]]:
        await asyncio.sleep(0)  # Faust's getmany waits for the consumer thread's records first
        if not self._fetches:
            self._stopped.set()
            return
        for tp, offset in self._fetches.pop(0):
            yield tp, Msg(tp=tp, offset=offset)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def callback(self, message: Msg) -> None:
        self.conducted.append((message.tp, message.offset))

    async def wait_first(self, *coros: Any) -> None:
        await coros[0]
        for coro in coros[1:]:
            coro.close()


def drain(consumer: FakeConsumer) -> None:
    asyncio.run(consumer._drain_messages(SimpleNamespace(_stopped=Flag())))


def test_each_fetch_of_the_input_topics_is_one_batch_and_other_topics_go_to_the_conductor() -> None:
    sink = Sink()
    fetches = [
        [(EVENTS_0, 0), (EVENTS_1, 0), (OTHER, 5), (EVENTS_0, 1)],
        [(EVENTS_1, 1), (EVENTS_1, 2)],
    ]
    consumer = FakeConsumer(fetches, sink)
    drain(consumer)
    assert sink.batches == [[(EVENTS_0, 0), (EVENTS_1, 0), (EVENTS_0, 1)], [(EVENTS_1, 1), (EVENTS_1, 2)]]
    assert consumer.conducted == [(OTHER, 5)]
    assert consumer._read_offset == {EVENTS_0: 1, EVENTS_1: 2, OTHER: 5}


def test_messages_before_the_read_offset_are_skipped() -> None:
    sink = Sink()
    consumer = FakeConsumer([[(EVENTS_0, 3), (EVENTS_0, 4), (EVENTS_0, 5)]], sink)
    consumer._read_offset[EVENTS_0] = 4  # a seek back to 4: 4 is read again, 3 is not
    drain(consumer)
    assert sink.batches == [[(EVENTS_0, 4), (EVENTS_0, 5)]]


def test_without_a_sink_faust_s_own_loop_runs() -> None:
    class Base:
        async def _drain_messages(self, fetcher: Any) -> None:
            self.ran = True

    class Consumer(BulkDelivery, Base):
        app = SimpleNamespace(bulk_sink=None)

    consumer = Consumer()
    asyncio.run(consumer._drain_messages(None))
    assert consumer.ran
