"""A flush commits offsets only once the broker has acknowledged the changelog and dead letters
of the events they cover; a send that failed stops every later commit."""

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

        async def commit(offsets: dict[TP, int]) -> None:
            self.commits.append(dict(offsets))

        async def flush_producer() -> None:
            pass

        async def send_dead_letter(letter: Any) -> None:
            return None

        harness = self

        class Changelog:
            def add(self, partition: int, key: bytes, value: bytes) -> None:
                pass

            async def send(self) -> None:
                pass

            def take_sent(self) -> list[asyncio.Future[Any]]:
                sent, harness.changelog = harness.changelog, []
                return sent

        self.pipeline = Pipeline(
            settings=Settings(),
            sink=FakeSink(),  # type: ignore[arg-type]
            metrics=Metrics(self.registry, topics=["events"]),
            commit=commit,
            flush_producer=flush_producer,
            send_dead_letter=send_dead_letter,
            changelog=Changelog(),
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

    def __init__(self, offset: int, value: bytes) -> None:
        self.tp, self.topic, self.partition = PARTITION, PARTITION.topic, PARTITION.partition
        self.offset, self.key, self.value = offset, b"t1", value


def teacher_message(offset: int) -> InputMessage:
    # a teacher's group message on Tuesday 2024-03-05 12:00 MSK, long past: not "future"
    event = (
        f'{{"schema_version":1,"event_id":"e{offset}","type":"message_sent","ts":1709629200000,"user_id":"t1",'
        '"role":"teacher","chat_id":"c1","chat_kind":"group"}'
    )
    return InputMessage(offset, event.encode())


def test_a_batch_fetched_before_a_rebalance_is_dropped_unapplied() -> None:
    async def scenario() -> None:
        h = Harness()
        state: dict[bytes, bytes] = {}
        h.pipeline.attach_table(SimpleNamespace(data=state))
        h.pipeline._hold_until[PARTITION] = 0
        await h.pipeline.on_batch([teacher_message(0), teacher_message(1)], lambda: False)
        assert state == {} and h.pipeline._pending_offsets == {} and len(h.pipeline.processor.pending) == 0
        await h.pipeline.on_batch([teacher_message(0), teacher_message(1)], lambda: True)
        assert list(state) == [b"t1"]
        assert h.pipeline._pending_offsets == {PARTITION: 2}
        [row] = h.pipeline.processor.pending.teacher_weeks.values()
        assert (row.group_messages, row.chat_messages, row.version) == (2, 2, 2)

    asyncio.run(scenario())
