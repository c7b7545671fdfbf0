"""A flush commits offsets only once the broker has acknowledged the changelog and dead letters
of the events they cover; a send that failed stops every later commit. Messages read before a
rebalance are not applied once it has begun, and a rebalance waits for the changelog."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from stream.metrics import Metrics
from stream.pipeline import Pipeline
from stream.settings import Settings

PARTITION = TP("events", 0)


class FakeSink:
    def write(self, rows: Any) -> int:
        return len(rows)

    def close(self) -> None:
        pass


class Harness:
    def __init__(self) -> None:
        self.commits: list[dict[TP, int]] = []
        self.changelog: list[asyncio.Future[Any]] = []
        self.registry = CollectorRegistry()
        #: The consumer as ``stream.transport.current_messages`` reads it.
        self.generation, self.flow_active = 1, True
        #: The pipeline's seeks back to a hole, and the partition's log start it reads.
        self.seeks: list[tuple[TP, int]] = []
        self.log_start = 0
        #: What the changelog's ``settle`` waits for, and whether it is acknowledged in time.
        self.unacknowledged: asyncio.Future[Any] | None = None
        self.settles_in_time = True

        async def commit(offsets: dict[TP, int]) -> None:
            self.commits.append(dict(offsets))

        async def flush_producer() -> None:
            pass

        async def send_dead_letter(letter: Any) -> None:
            return None

        async def seek(tp: TP, offset: int) -> None:
            self.seeks.append((tp, offset))

        async def log_start(tp: TP) -> int:
            return self.log_start

        harness = self

        class Changelog:
            def add(self, partition: int, key: bytes, value: bytes) -> None:
                pass

            async def send(self) -> None:
                pass

            def take_sent(self) -> list[asyncio.Future[Any]]:
                sent, harness.changelog = harness.changelog, []
                return sent

            async def settle(self, timeout: float) -> bool:
                if harness.unacknowledged is not None:
                    await harness.unacknowledged
                return harness.settles_in_time

        self.pipeline = Pipeline(
            settings=Settings(input_topics=("events",)),
            sink=FakeSink(),  # type: ignore[arg-type]
            metrics=Metrics(self.registry, topics=["events"]),
            commit=commit,
            flush_producer=flush_producer,
            send_dead_letter=send_dead_letter,
            changelog=Changelog(),
            is_current=lambda m: self.flow_active and m.generation_id == self.generation,
            log_start=log_start,
            seek=seek,
        )

    def processed_up_to(self, offset: int) -> asyncio.Future[Any]:
        """As after a batch: offsets pending, one changelog message sent and not yet acknowledged."""
        self.pipeline._pending_offsets[PARTITION] = offset
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.changelog.append(future)
        return future

    def failures(self) -> float:
        value = self.registry.get_sample_value("sferum_flush_failures_total")
        return value or 0.0


def test_offsets_are_committed_only_after_the_changelog_is_acknowledged() -> None:
    async def scenario() -> None:
        h = Harness()
        acknowledged = h.processed_up_to(10)
        flush = asyncio.create_task(h.pipeline.flush())
        for _ in range(50):
            await asyncio.sleep(0.01)
        assert h.commits == []  # still waiting for the broker
        acknowledged.set_result("metadata")
        await flush
        assert h.commits == [{PARTITION: 10}]
        assert not h.pipeline.commits_blocked

    asyncio.run(scenario())


def test_a_failed_changelog_send_blocks_this_and_every_later_commit() -> None:
    async def scenario() -> None:
        h = Harness()
        h.processed_up_to(10).set_exception(RuntimeError("delivery timed out"))
        await h.pipeline.flush()
        h.processed_up_to(20).set_result("metadata")
        await h.pipeline.flush()
        assert h.commits == []
        assert h.pipeline.commits_blocked
        assert h.failures() == 2

    asyncio.run(scenario())


class InputMessage:
    """A fetched input message, as the pipeline reads it."""

    def __init__(self, offset: int, value: bytes, generation: int) -> None:
        self.tp, self.topic, self.partition = PARTITION, PARTITION.topic, PARTITION.partition
        self.offset, self.key, self.value = offset, b"t1", value
        self.generation_id = generation


def teacher_message(offset: int, generation: int = 1) -> InputMessage:
    # a teacher's group message on Tuesday 2024-03-05 12:00 MSK, long past: not "future"
    event = (
        f'{{"schema_version":1,"event_id":"e{offset}","type":"message_sent","ts":1709629200000,"user_id":"t1",'
        '"role":"teacher","chat_id":"c1","chat_kind":"group"}'
    )
    return InputMessage(offset, event.encode(), generation)


def test_messages_read_before_a_rebalance_are_dropped_unapplied() -> None:
    async def scenario() -> None:
        h = Harness()
        state: dict[bytes, bytes] = {}
        h.pipeline.attach_table(SimpleNamespace(data=state))
        h.pipeline._hold_until[PARTITION] = 0
        h.flow_active = False  # a rebalance has begun: its partition may be another worker's now
        await h.pipeline.on_batch([teacher_message(0), teacher_message(1)])
        assert state == {} and h.pipeline._pending_offsets == {} and len(h.pipeline.processor.pending) == 0
        # it ended in generation 2 and sought back to offset 0: a batch (take_events' buffer)
        # holds a message read before it, then the two read again after it
        h.generation, h.flow_active = 2, True
        h.pipeline.contiguity.expect({PARTITION: 0})
        await h.pipeline.on_batch([teacher_message(2, 1), teacher_message(0, 2), teacher_message(1, 2)])
        assert list(state) == [b"t1"]
        assert h.pipeline._pending_offsets == {PARTITION: 2}
        [row] = h.pipeline.processor.pending.teacher_weeks.values()
        assert (row.group_messages, row.chat_messages, row.version) == (2, 2, 2)

    asyncio.run(scenario())


def test_a_rebalance_waits_for_the_batch_being_applied_and_the_changelog() -> None:
    async def scenario() -> None:
        h = Harness()
        h.unacknowledged = asyncio.get_running_loop().create_future()
        async with h.pipeline._lock:  # a batch is being applied
            settle = asyncio.create_task(h.pipeline.settle())
            await asyncio.sleep(0.05)
            assert not settle.done()
        await asyncio.sleep(0.05)
        assert not settle.done()  # the batch is done, its changelog is not acknowledged yet
        h.unacknowledged.set_result("metadata")
        await settle
        assert not h.pipeline.commits_blocked

    asyncio.run(scenario())


def test_a_changelog_not_acknowledged_within_a_rebalance_blocks_the_commits() -> None:
    async def scenario() -> None:
        h = Harness()
        h.settles_in_time = False
        await h.pipeline.settle()
        assert h.pipeline.commits_blocked
        h.processed_up_to(10).set_result("metadata")
        await h.pipeline.flush()
        assert h.commits == []

    asyncio.run(scenario())


def test_messages_past_a_hole_are_not_applied_and_the_partition_is_read_again() -> None:
    async def scenario() -> None:
        h = Harness()
        state: dict[bytes, bytes] = {}
        h.pipeline.attach_table(SimpleNamespace(data=state))
        h.pipeline._hold_until[PARTITION] = 0
        h.pipeline.contiguity.expect({PARTITION: 0})  # the seek to the committed offset 0
        await h.pipeline.on_batch([teacher_message(5), teacher_message(6)])  # 0..4 never came
        assert state == {} and h.pipeline._pending_offsets == {}
        assert h.seeks == [(PARTITION, 0)]
        await h.pipeline.on_batch([teacher_message(o) for o in range(7)])
        assert h.pipeline._pending_offsets == {PARTITION: 7}
        [row] = h.pipeline.processor.pending.teacher_weeks.values()
        assert row.version == 7

    asyncio.run(scenario())
