"""``stream.kafka.checkpoint``: the commit protocol's safety paths, with fakes of a partition's
producer and of the ClickHouse write. What is asserted is the order of effects: rows written
before any transaction, a transaction committed only when every record in it was acknowledged,
the local store written only after the commit, and what a failure leaves to the next checkpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError, ProducerFenced

from schemas.rows import PendingRows, TeacherWeekRow
from sinks.clickhouse import StoreError
from stream.core.batch import BatchProcessor, DeadLetter, Record
from stream.kafka.align import Merge
from stream.kafka.checkpoint import Committer, take_snapshot
from stream.kafka.deadletters import Source
from stream.kafka.task import PartitionTask
from stream.settings import Settings
from stream.state.codec import user_key
from stream.state.store import PartitionStore
from stream.state.users import PartitionUsers

TOPIC = "events"


class Metadata:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes | None]] = []

    def append(self, *, key: bytes, value: bytes | None, timestamp: None) -> object:
        self.records.append((key, value))
        return object()


class FakeProducer:
    """Records every call in ``log``; each send resolves as the test says."""

    def __init__(self, log: list[str], *, letter_error: BaseException | None = None) -> None:
        self.log = log
        self.letter_error = letter_error
        self.fence_on_begin = False
        self.next_offset = 100

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def begin_transaction(self) -> None:
        if self.fence_on_begin:
            raise ProducerFenced()
        self.log.append("begin")

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[object]:
        self.log.append(f"changelog {len(batch.records)}")
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        future.set_result(Metadata(self.next_offset))
        self.next_offset += len(batch.records) + 1
        return future

    async def send(self, topic: str, value: bytes, *, key: bytes | None, headers: Any) -> asyncio.Future[object]:
        self.log.append("dead letter")
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.letter_error is not None:
            future.set_exception(self.letter_error)
        else:
            future.set_result(Metadata(0))
        return future

    async def send_offsets_to_transaction(self, offsets: dict[TopicPartition, int], group: str) -> None:
        self.log.append(f"offsets {sorted((tp.partition, o) for tp, o in offsets.items())}")

    async def commit_transaction(self) -> None:
        self.log.append("commit")

    async def abort_transaction(self) -> None:
        self.log.append("abort")


def task(tmp_path: Path, producer: FakeProducer) -> PartitionTask:
    tp = TopicPartition(TOPIC, 0)
    users = PartitionUsers(PartitionStore(tmp_path / "store"))
    t = PartitionTask(0, [tp], users, Merge([tp], idle_s=1.0), producer=producer)  # type: ignore[arg-type]
    t.running = True
    t.next_offset[TOPIC] = t.committed[TOPIC] = 0
    return t


def applied(t: PartitionTask, processor: BatchProcessor, *, letter: bool = False) -> None:
    """As if records 0-9 were applied: a user changed, a row pending, maybe a dead letter."""
    t.users.load("t-1").stream_time = 1_700_000_000_000
    t.users.changed("t-1")
    processor.pending.teacher_weeks[("t-1", 19_000)] = TeacherWeekRow(19_000, "t-1", 1, 1, 1, 0, 1)
    if letter:
        t.letters.append(DeadLetter(Record(b"{", b"k", Source(TOPIC, 0, 3)), "bad_json", "x"))
    t.next_offset[TOPIC] = 10
    t.events_since_commit = 10


class Writes:
    """The ClickHouse write: fails ``failures`` times with StoreError, then succeeds."""

    def __init__(self, log: list[str], failures: int = 0) -> None:
        self.log, self.failures = log, failures

    async def __call__(self, rows: PendingRows) -> int:
        if self.failures:
            self.failures -= 1
            self.log.append("rows refused")
            raise StoreError("the store is down")
        self.log.append(f"rows {len(rows)}")
        return len(rows)


def committer(log: list[str], writes: Writes, sleeps: list[float]) -> Committer:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return Committer(
        write_rows=writes,
        group_id="g",
        changelog_topic="g-state-changelog",
        dead_letter_topic="dl",
        max_event_bytes=65536,
        on_store_error=lambda exc, delay: None,
        retry_initial_s=0.5,
        retry_max_s=2.0,
        sleep=sleep,
    )


def test_rows_are_retried_with_backoff_and_no_transaction_begins_before_they_are_written(tmp_path: Path) -> None:
    log: list[str] = []
    sleeps: list[float] = []
    t, processor = task(tmp_path, FakeProducer(log)), BatchProcessor(Settings(), check_key=True)
    applied(t, processor)
    outcome = asyncio.run(committer(log, Writes(log, failures=3), sleeps).commit(take_snapshot([t], processor)))
    assert log == ["rows refused"] * 3 + ["rows 1", "begin", "changelog 1", "offsets [(0, 10)]", "commit"]
    assert sleeps == [0.5, 1.0, 2.0]  # doubling, up to the most
    assert outcome.committed == [t] and t.committed[TOPIC] == 10


def test_the_local_store_is_written_only_after_the_commit(tmp_path: Path) -> None:
    log: list[str] = []
    t, processor = task(tmp_path, FakeProducer(log)), BatchProcessor(Settings(), check_key=True)
    applied(t, processor)
    snapshot = take_snapshot([t], processor)
    assert t.store.get(user_key("t-1")) is None
    asyncio.run(committer(log, Writes(log), []).commit(snapshot))
    assert t.store.get(user_key("t-1")) is not None
    assert t.store.changelog_next() == 101  # after the one record at offset 100


def test_a_dead_letter_the_broker_refuses_aborts_the_transaction_and_everything_goes_in_the_next(
    tmp_path: Path,
) -> None:
    log: list[str] = []
    producer = FakeProducer(log, letter_error=KafkaTimeoutError())
    t, processor = task(tmp_path, producer), BatchProcessor(Settings(), check_key=True)
    applied(t, processor, letter=True)
    outcome = asyncio.run(committer(log, Writes(log), []).commit(take_snapshot([t], processor)))
    assert log == ["rows 1", "begin", "changelog 1", "dead letter", "abort"]  # no offsets, no commit
    assert outcome.failed == [t] and t.committed[TOPIC] == 0
    assert t.store.get(user_key("t-1")) is None
    # the next checkpoint carries the same changes, the letter and the offsets again
    log.clear()
    producer.letter_error = None
    asyncio.run(committer(log, Writes(log), []).commit(take_snapshot([t], processor)))
    assert log == ["begin", "changelog 1", "dead letter", "offsets [(0, 10)]", "commit"]
    assert t.committed[TOPIC] == 10 and t.store.get(user_key("t-1")) is not None


def test_a_fenced_producer_loses_the_partition_and_commits_nothing(tmp_path: Path) -> None:
    log: list[str] = []
    producer = FakeProducer(log)
    producer.fence_on_begin = True
    t, processor = task(tmp_path, producer), BatchProcessor(Settings(), check_key=True)
    applied(t, processor)
    outcome = asyncio.run(committer(log, Writes(log), []).commit(take_snapshot([t], processor)))
    assert outcome.lost == [t] and not outcome.committed
    assert "commit" not in log and t.store.get(user_key("t-1")) is None


def test_a_snapshot_takes_only_running_tasks_with_something_to_commit(tmp_path: Path) -> None:
    log: list[str] = []
    processor = BatchProcessor(Settings(), check_key=True)
    busy, idle = task(tmp_path / "a", FakeProducer(log)), task(tmp_path / "b", FakeProducer(log))
    restoring = task(tmp_path / "c", FakeProducer(log))
    restoring.running = False
    applied(busy, processor)
    applied(restoring, processor)
    snapshot = take_snapshot([busy, idle, restoring], processor)
    assert [part.task for part in snapshot.parts] == [busy]
    assert snapshot.events == 10 and len(snapshot.rows) == 1
    assert not busy.letters and busy.events_since_commit == 0
