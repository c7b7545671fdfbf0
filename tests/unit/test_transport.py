"""After a rebalance every input partition is sought back to its commit, even without one."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from stream.transport import ExactConsumerThread

EVENTS_0 = TopicPartition("events", 0)
EVENTS_1 = TopicPartition("events", 1)
EVENTS_2 = TopicPartition("events", 2)
EVENTS_3 = TopicPartition("events", 3)
CHANGELOG_0 = TopicPartition("app-user-state-changelog", 0)
CHANGELOG_1 = TopicPartition("app-user-state-changelog", 1)


class FakeAiokafkaConsumer:
    """Records seeks; ``seek_to_committed`` behaves as aiokafka's: it seeks only above zero."""

    def __init__(self, committed: dict[TopicPartition, int | None]) -> None:
        self._committed = committed
        self.seeks: list[tuple[TopicPartition, Any]] = []

    async def seek_to_committed(self) -> dict[TopicPartition, int | None]:
        for tp, offset in self._committed.items():
            if offset and offset > 0:
                self.seeks.append((tp, offset))
        return dict(self._committed)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.seeks.extend((tp, "beginning") for tp in tps)


def test_partitions_without_a_commit_or_committed_at_zero_are_sought_back_too() -> None:
    committed = {EVENTS_0: 120, EVENTS_1: None, EVENTS_2: 0, EVENTS_3: 7, CHANGELOG_0: None, CHANGELOG_1: 0}
    consumer = FakeAiokafkaConsumer(committed)
    thread = SimpleNamespace(
        _ensure_consumer=lambda: consumer,
        app=SimpleNamespace(tables=SimpleNamespace(changelog_topics={"app-user-state-changelog"})),
    )
    result = asyncio.run(ExactConsumerThread._seek_to_committed(thread))  # type: ignore[arg-type]
    assert result == committed
    # input partitions: every one is sought; changelogs are left to Faust's recovery
    assert sorted(consumer.seeks, key=str) == sorted(
        [(EVENTS_0, 120), (EVENTS_3, 7), (EVENTS_2, 0), (EVENTS_1, "beginning")], key=str
    )


def test_the_seek_listener_learns_the_log_start_of_partitions_without_a_commit() -> None:
    from faust.types import TP

    from stream.transport import ExactConsumer

    class Consumer:
        app = SimpleNamespace(tables=SimpleNamespace(changelog_topics={"app-user-state-changelog"}))

        async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
            assert set(tps) == {TP("events", 1), TP("events", 2)}
            return {TP("events", 1): 40}  # partition 2's start could not be read

    committed: dict[Any, int | None] = {EVENTS_0: 120, EVENTS_1: None, EVENTS_2: -1, EVENTS_3: 0}
    sought = asyncio.run(ExactConsumer._sought_to(Consumer(), committed))  # type: ignore[arg-type]
    assert sought == {TP("events", 0): 120, TP("events", 1): 40, TP("events", 2): None, TP("events", 3): 0}


def test_read_offsets_are_kept_for_the_changelogs_only() -> None:
    from faust.types import TP

    from stream.transport import ChangelogReadOffsets

    offsets = ChangelogReadOffsets(lambda: {"app-user-state-changelog"})
    offsets[TP("events", 0)] = 500  # Faust's fetch loop, after handing a message on
    offsets.update({TP("events", 1): 7, TP("app-user-state-changelog", 0): 9})  # Faust's seek back
    offsets[TP("app-user-state-changelog", 1)] = 3
    assert offsets[TP("events", 0)] is None and offsets[TP("events", 1)] is None  # nothing dropped
    assert offsets[TP("app-user-state-changelog", 0)] == 9 and offsets[TP("app-user-state-changelog", 1)] == 3
    assert offsets[TP("app-user-state-changelog", 2)] is None
