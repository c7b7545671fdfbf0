"""The worker's input loop (``stream.kafka.runner``) against in-memory fakes of its Kafka ports
(``tests/support/fake_kafka.py``): fetch, apply, checkpoint, a failed transaction, a fenced
producer, a partition handed to another worker, input written in transactions upstream.

The expected rows are written out by hand from the events each test produces. The rows store is
a dict keeping the highest version per key, as ClickHouse's ReplacingMergeTree does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import CollectorRegistry

from schemas.rows import PendingRows, TeacherWeekRow
from stream.core.week import WeekCalendar
from stream.kafka.clients import changelog_topic, tps
from stream.kafka.runner import Runner
from stream.settings import Settings
from stream.state.codec import user_key
from stream.worker.kpi_gauges import RegionKpiGauges
from stream.worker.metrics import Metrics
from tests.support.fake_kafka import OPEN, FakeBroker, FakeKafka, FakeProducer

MSK = ZoneInfo("Europe/Moscow")
#: The week of Monday 2026-11-16, in days since 1970-01-01.
WEEK = 20773
NOW = datetime(2026, 11, 20, 12, tzinfo=MSK).timestamp()


def at(day: int, hour: int) -> int:
    return int(datetime(2026, 11, day, hour, tzinfo=MSK).timestamp() * 1000)


class Rows:
    """The rows store: the highest version per key wins."""

    def __init__(self) -> None:
        self.teacher_weeks: dict[tuple[str, int], TeacherWeekRow] = {}
        self.writes = 0

    async def write_rows(self, rows: PendingRows) -> int:
        for key, row in rows.teacher_weeks.items():
            old = self.teacher_weeks.get(key)
            if old is None or row.version >= old.version:
                self.teacher_weeks[key] = row
        self.writes += 1
        return len(rows)


class Worker:
    """One worker: a runner with its own data dir and fake clients, over the shared broker."""

    def __init__(self, tmp_path: Path, broker: FakeBroker, rows: Rows, name: str = "w1") -> None:
        self.settings = Settings(data_dir=tmp_path / name, flush_interval_s=3600.0)
        self.kafka = FakeKafka(broker, app_id=self.settings.app_id, changelog=changelog_topic(self.settings))
        self.metrics = Metrics(CollectorRegistry(), topics=self.settings.consumed_topics, clock=lambda: NOW)
        self.runner = Runner(
            self.settings,
            kafka=self.kafka,
            write_rows=rows.write_rows,
            metrics=self.metrics,
            gauges=RegionKpiGauges(WeekCalendar(self.settings.timezone), clock=lambda: NOW),
            clock=lambda: NOW,
        )
        self._loop: asyncio.Task[None] | None = None

    async def start(self, partition: int = 0) -> None:
        self._loop = asyncio.create_task(self.runner.run())
        await until(lambda: self.kafka.consumer is not None)
        await self.assign({partition})

    async def assign(self, partitions: set[int]) -> None:
        assert self.kafka.consumer is not None
        wanted = {tp for number in partitions for tp in tps(self.settings.consumed_topics, number)}
        await self.kafka.consumer.assign(wanted)
        await until(lambda: all(task.running for task in self.runner.tasks.values()))

    async def applied_to_end(self, broker: FakeBroker) -> None:
        """Until every record on the broker of the partitions owned is applied."""

        def done() -> bool:
            applied = self.runner.applied()
            return bool(applied) and all(offset == broker.stable_end(tp) for tp, offset in applied.items())

        await until(done)

    async def stop(self) -> None:
        self.runner.request_stop()
        if self._loop is not None:
            await self._loop
        await self.runner.stop()


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


class Events:
    """Events written to the broker's input topics, routed by type as ``sferum-kpi produce`` does."""

    def __init__(self, broker: FakeBroker, settings: Settings) -> None:
        self.broker, self.settings = broker, settings

    def line(self, event_id: str, kind: str, user: str, ts: int, chat_kind: str = "group") -> tuple[str, bytes, bytes]:
        body: dict[str, object] = {
            "schema_version": 1,
            "type": kind,
            "event_id": event_id,
            "ts": ts,
            "user_id": user,
            "role": "teacher",
        }
        body |= {"call_id": f"c-{event_id}"} if kind == "call" else {"chat_id": f"ch-{event_id}"}
        body["chat_kind"] = chat_kind
        return self.settings.topic_names[kind], user.encode(), json.dumps(body).encode()

    def send(self, event_id: str, kind: str, user: str, ts: int, chat_kind: str = "group") -> None:
        topic, key, value = self.line(event_id, kind, user, ts, chat_kind)
        self.broker.produce(topic, 0, key, value)

    def week_of_teacher_1(self) -> Iterator[None]:
        """Seven distinct events of t-1, one of them sent twice, and one of t-2."""
        self.send("e1", "chat_created", "t-1", at(17, 9))
        for n, hour in (("e2", 10), ("e3", 11), ("e4", 12)):
            self.send(n, "message_sent", "t-1", at(17, hour))
        yield
        self.send("e5", "message_sent", "t-1", at(18, 9), "personal")
        self.send("e6", "call", "t-1", at(18, 10), "personal")
        self.send("e2", "message_sent", "t-1", at(17, 10))  # a duplicate
        self.send("e7", "message_sent", "t-1", at(18, 11), "channel")
        self.send("e8", "message_sent", "t-2", at(18, 12), "personal")


#: ``week_of_teacher_1`` counted: t-1 created 1 group chat, wrote 3 group messages and 4 chat
#: messages (group and personal; a channel post is neither), made 1 call; 7 distinct events.
EXPECTED = {
    ("t-1", WEEK): TeacherWeekRow(WEEK, "t-1", 1, 3, 4, 1, 7),
    ("t-2", WEEK): TeacherWeekRow(WEEK, "t-2", 0, 0, 1, 0, 1),
}


def ends(broker: FakeBroker, settings: Settings, partition: int = 0) -> dict[TopicPartition, int]:
    return {tp: len(broker.log(tp)) for tp in tps(settings.consumed_topics, partition) if broker.log(tp)}


async def applied_the_week_and_a_bad_line(tmp_path: Path, broker: FakeBroker, rows: Rows) -> Worker:
    """A worker that has applied the whole of ``week_of_teacher_1`` and a line that is not JSON."""
    worker = Worker(tmp_path, broker, rows)
    for _ in Events(broker, worker.settings).week_of_teacher_1():
        pass
    broker.produce(worker.settings.topic_message_sent, 0, b"t-1", b"{not json")
    await worker.start()
    await worker.applied_to_end(broker)
    return worker


def assert_counted_once_and_committed_to_the_end(broker: FakeBroker, rows: Rows, worker: Worker) -> None:
    assert rows.teacher_weeks == EXPECTED
    assert broker.group_offsets == ends(broker, worker.settings)


def test_applied_events_are_counted_and_committed_with_their_offsets_state_and_dead_letters(tmp_path: Path) -> None:
    broker, rows = FakeBroker(), Rows()

    async def scenario() -> Worker:
        worker = await applied_the_week_and_a_bad_line(tmp_path, broker, rows)
        assert not broker.group_offsets and not rows.teacher_weeks  # nothing durable before a checkpoint
        await worker.runner.checkpoint()
        await worker.stop()
        return worker

    worker = asyncio.run(scenario())
    assert_counted_once_and_committed_to_the_end(broker, rows, worker)
    messages = TopicPartition(worker.settings.topic_message_sent, 0)
    assert broker.group_offsets[messages] == 8  # e2-e5, e2 again, e7, e8, the bad line
    changelog = broker.visible(TopicPartition(changelog_topic(worker.settings), 0))
    assert sorted(entry.key or b"" for entry in changelog) == [user_key("t-1"), user_key("t-2")]
    letters = broker.visible(TopicPartition(worker.settings.dead_letter_topic, 0))
    assert [entry.value for entry in letters] == [b"{not json"]


def test_a_failed_transaction_commits_nothing_and_the_next_checkpoint_commits_it_all_once(tmp_path: Path) -> None:
    broker, rows = FakeBroker(), Rows()

    async def scenario() -> Worker:
        worker = await applied_the_week_and_a_bad_line(tmp_path, broker, rows)
        worker.kafka.producers[0].fail("commit_transaction", KafkaTimeoutError())
        await worker.runner.checkpoint()
        assert not broker.group_offsets  # the transaction's offsets went with it
        assert not broker.visible(TopicPartition(worker.settings.dead_letter_topic, 0))
        assert not broker.visible(TopicPartition(changelog_topic(worker.settings), 0))
        await worker.runner.checkpoint()
        await worker.stop()
        return worker

    worker = asyncio.run(scenario())
    assert_counted_once_and_committed_to_the_end(broker, rows, worker)
    assert len(broker.visible(TopicPartition(worker.settings.dead_letter_topic, 0))) == 1
    assert len(broker.visible(TopicPartition(changelog_topic(worker.settings), 0))) == 2


def test_a_fenced_partition_starts_again_from_what_was_committed_and_counts_nothing_twice(tmp_path: Path) -> None:
    broker, rows = FakeBroker(), Rows()

    async def scenario() -> Worker:
        worker = Worker(tmp_path, broker, rows)
        halves = Events(broker, worker.settings).week_of_teacher_1()
        next(halves)  # e1-e4
        await worker.start()
        await worker.applied_to_end(broker)
        await worker.runner.checkpoint()
        first = broker.group_offsets.copy()
        rival = FakeProducer(broker, f"{worker.settings.app_id}-state-0")
        await rival.start()  # another member took the partition's transactional id
        next(halves, None)  # e5-e8, applied by this worker and then found fenced
        await worker.applied_to_end(broker)
        fenced = worker.kafka.producers[0]
        await worker.runner.checkpoint()
        assert broker.group_offsets == first and fenced.calls[-1] != "commit_transaction"
        # still assigned: the partition restarts with a new producer, from the committed offsets
        await until(lambda: worker.kafka.producers[0] is not fenced and 0 in worker.runner.tasks)
        await worker.applied_to_end(broker)
        await worker.runner.checkpoint()
        await worker.stop()
        return worker

    assert_counted_once_and_committed_to_the_end(broker, rows, asyncio.run(scenario()))


def test_a_partition_handed_to_another_worker_goes_on_from_its_committed_state(tmp_path: Path) -> None:
    """Worker 1 counts the first half and gives the partition up at a rebalance (a last checkpoint);
    worker 2, with an empty data dir, restores from the changelog and counts the rest, the
    duplicate of an event worker 1 counted among them."""
    broker, rows = FakeBroker(), Rows()

    async def scenario() -> Worker:
        first, second = Worker(tmp_path, broker, rows, "w1"), Worker(tmp_path, broker, rows, "w2")
        halves = Events(broker, first.settings).week_of_teacher_1()
        next(halves)
        await first.start()
        await first.applied_to_end(broker)
        await first.assign(set())  # revoked: checkpointed, then dropped
        assert broker.group_offsets == ends(broker, first.settings)
        next(halves, None)
        await second.start()
        restored = second.metrics.restored_records.collect()[0].samples[0].value
        assert restored == 1  # t-1's state, written by worker 1
        await second.applied_to_end(broker)
        await second.runner.checkpoint()
        await second.stop()
        await first.stop()
        return second

    assert_counted_once_and_committed_to_the_end(broker, rows, asyncio.run(scenario()))


@pytest.mark.parametrize("aborted_too", [False, True])
def test_input_written_in_transactions_is_committed_to_its_end_past_the_markers(
    tmp_path: Path, aborted_too: bool
) -> None:
    """A producer upstream that writes in transactions leaves a marker after each: the offset
    committed must reach the partition's end, or ``worker --drain`` waits forever and the lag
    shows 1 per partition."""
    broker, rows = FakeBroker(), Rows()

    async def scenario() -> Worker:
        worker = Worker(tmp_path, broker, rows)
        events = Events(broker, worker.settings)
        for name, n in (("e1", 9), ("e2", 10)):
            topic, key, value = events.line(name, "message_sent", "t-1", at(17, n))
            broker.produce_in_transaction(topic, 0, [(key, value)])
        if aborted_too:  # an aborted transaction at the end: its record and its marker
            tp = TopicPartition(topic, 0)
            broker.append(tp, key, events.line("e3", "message_sent", "t-1", at(17, 11))[2], state=OPEN, transaction=99)
            broker.end_transaction(99, commit=False)  # its record is not an event
        await worker.start()
        messages = TopicPartition(worker.settings.topic_message_sent, 0)
        await until(lambda: worker.runner.applied().get(messages, 0) >= 3)  # after e2, at offset 2
        await asyncio.sleep(0.1)  # turns of the loop: nothing more to apply
        await worker.runner.checkpoint()
        assert worker.runner.consumer_lag() == [(tp.topic, 0, 0) for tp in worker.runner.tasks[0].tps]
        await worker.stop()
        return worker

    worker = asyncio.run(scenario())
    messages = TopicPartition(worker.settings.topic_message_sent, 0)
    assert broker.group_offsets[messages] == (6 if aborted_too else 4)
    assert rows.teacher_weeks == {("t-1", WEEK): TeacherWeekRow(WEEK, "t-1", 0, 2, 2, 0, 2)}
