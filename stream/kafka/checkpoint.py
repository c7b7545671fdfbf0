"""The commit protocol: how what the worker applied becomes durable, and only then committed.

For the records applied since the last checkpoint:

1. **Snapshot**, synchronously, while no batch is applied (``take_snapshot``): the rows they
   changed, the state records of the users they changed, their dead letters, and per input
   partition the offset after the last record applied.
2. **Rows to ClickHouse**, retried with backoff until written. Idempotent: a row is replaced by a
   row of the same key and a higher or equal version (ReplacingMergeTree), and the version (the
   count of distinct events applied to it) only grows.
3. **One Kafka transaction per partition**: its state records to the changelog topic and its
   dead letters, each acknowledged by the broker, then the input offsets
   (``send_offsets_to_transaction``), then commit. State, dead letters and offsets of a partition
   become visible together, or not at all. The partition's producer has the partition's
   transactional id: a new owner's producer fences this one, so a member that lost the partition
   without noticing (its session expired while it was frozen) cannot commit for it any more.
4. **The local store**: the state records of each committed transaction, with the changelog
   offset they reach. So the store is never ahead of the changelog.

Invariant: for every input partition, the committed offset ``o``, the committed changelog and the
rows in ClickHouse all reflect exactly the records before ``o``: the rows also maybe some after
it, rows that re-applying those records writes again, identically. A crash anywhere restarts from
``o`` on the state committed with it: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced
from aiokafka.structs import RecordMetadata

from schemas.rows import PendingRows
from stream.core.batch import BatchProcessor, DeadLetter
from stream.kafka.deadletters import dead_letter_message
from stream.kafka.ports import PartitionProducer
from stream.kafka.task import PartitionTask
from stream.state.users import Changes

log = logging.getLogger(__name__)

#: How long an abort may take before the broker is left to abort the transaction at its timeout.
ABORT_TIMEOUT_S = 10.0


class PartitionLost(Exception):
    """The partition's producer was fenced: another member owns the partition now."""


@dataclass(slots=True)
class PartSnapshot:
    task: PartitionTask
    changes: Changes
    letters: list[DeadLetter]
    offsets: dict[TopicPartition, int]
    events: int


@dataclass(slots=True)
class Snapshot:
    rows: PendingRows
    parts: list[PartSnapshot] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.rows and not self.parts

    @property
    def events(self) -> int:
        return sum(part.events for part in self.parts)


def take_snapshot(tasks: Iterable[PartitionTask], processor: BatchProcessor) -> Snapshot:
    """Step 1: everything applied and not yet committed, taken out of the tasks."""
    snapshot = Snapshot(processor.take_pending())
    for task in tasks:
        if not task.running or not task.has_uncommitted():
            continue
        part = PartSnapshot(
            task, task.users.take_changes(), task.letters, task.offsets_to_commit(), task.events_since_commit
        )
        task.letters, task.events_since_commit = [], 0
        snapshot.parts.append(part)
    return snapshot


@dataclass(slots=True)
class Outcome:
    committed: list[PartitionTask] = field(default_factory=list)
    lost: list[PartitionTask] = field(default_factory=list)
    failed: list[PartitionTask] = field(default_factory=list)
    rows: int = 0


class Committer:
    """Steps 2 to 4 for a snapshot."""

    def __init__(
        self,
        *,
        write_rows: Callable[[PendingRows], Awaitable[int]],
        group_id: str,
        changelog_topic: str,
        dead_letter_topic: str,
        max_event_bytes: int,
        on_store_error: Callable[[BaseException, float], None],
        retry_initial_s: float,
        retry_max_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._write_rows = write_rows
        self._group_id = group_id
        self._changelog = changelog_topic
        self._dead_letters = dead_letter_topic
        self._max_event_bytes = max_event_bytes
        self._on_store_error = on_store_error
        self._retry = (retry_initial_s, retry_max_s)
        self._sleep = sleep

    async def commit(self, snapshot: Snapshot) -> Outcome:
        """Steps 2 to 4 of the protocol above for a snapshot taken by step 1: its rows written to
        ClickHouse (retried until written), then one transaction per partition (changelog records,
        dead letters, input offsets), then each committed partition's state in its local store.
        A failed transaction leaves its changes, letters and events to the next checkpoint; a
        fenced one loses its partition (``Outcome.lost``)."""
        outcome = Outcome()
        started = time.perf_counter()
        if snapshot.rows:
            outcome.rows = await self._rows_until_written(snapshot.rows)
        written = time.perf_counter()
        results = await asyncio.gather(*(self._transaction(part) for part in snapshot.parts), return_exceptions=True)
        log.info(
            "checkpoint: rows written in %.3f s, %d transactions in %.3f s",
            written - started,
            len(snapshot.parts),
            time.perf_counter() - written,
        )
        for part, result in zip(snapshot.parts, results, strict=True):
            task = part.task
            if isinstance(result, BaseException):
                if isinstance(result, PartitionLost):
                    outcome.lost.append(task)
                    continue
                if isinstance(result, asyncio.CancelledError):
                    raise result
                log.warning(
                    "partition %d: the checkpoint's transaction failed, retrying next time: %s", task.number, result
                )
                task.users.restore_changes(part.changes)  # their newer state goes in the next one
                task.letters[:0] = part.letters
                task.events_since_commit += part.events
                outcome.failed.append(task)
                continue
            task.users.committed(part.changes, result)  # step 4
            task.committed.update({tp.topic: offset for tp, offset in part.offsets.items()})
            outcome.committed.append(task)
        return outcome

    async def _rows_until_written(self, rows: PendingRows) -> int:
        """Step 2."""
        delay, most = self._retry
        while True:
            try:
                return await self._write_rows(rows)
            except Exception as exc:  # StoreError: the store is down or refused; retry the same rows
                self._on_store_error(exc, delay)
                await self._sleep(delay)
                delay = min(delay * 2, most)

    async def _transaction(self, part: PartSnapshot) -> int | None:
        """Step 3 for one partition; the changelog offset after its records (None: no records)."""
        producer = part.task.producer
        assert producer is not None
        try:
            await producer.begin_transaction()
            try:
                sent = await self._send_changelog(producer, part.task.number, part.changes.entries)
                letters = [await self._send_letter(producer, letter) for letter in part.letters]
                # Every record acknowledged inside the transaction before it commits: a batch the
                # broker refused would otherwise leave the transaction without it.
                acknowledged = await asyncio.gather(*(f for f, _ in sent), *letters)
                if part.offsets:
                    await producer.send_offsets_to_transaction(part.offsets, self._group_id)
                await producer.commit_transaction()
            except BaseException:
                with suppress(Exception):  # a fenced or broken producer cannot abort: the broker will
                    await asyncio.wait_for(producer.abort_transaction(), ABORT_TIMEOUT_S)
                raise
        except (ProducerFenced, InvalidProducerEpoch) as exc:
            raise PartitionLost(str(exc)) from exc
        if not sent:
            return None
        batches: list[RecordMetadata] = acknowledged[: len(sent)]
        return max(int(meta.offset) + count for meta, (_, count) in zip(batches, sent, strict=True))

    async def _send_changelog(
        self, producer: PartitionProducer, partition: int, entries: Sequence[tuple[bytes, bytes | None]]
    ) -> list[tuple[asyncio.Future[object], int]]:
        """The state records as record batches; each batch's future and record count."""
        sent: list[tuple[asyncio.Future[object], int]] = []
        batch, count = producer.create_batch(), 0
        for key, value in entries:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                sent.append((await producer.send_batch(batch, self._changelog, partition=partition), count))
                batch, count = producer.create_batch(), 0
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"a state record of {len(value or b'')} bytes does not fit a batch")
            count += 1
        if count:
            sent.append((await producer.send_batch(batch, self._changelog, partition=partition), count))
        return sent

    async def _send_letter(self, producer: PartitionProducer, letter: DeadLetter) -> asyncio.Future[object]:
        value, headers = dead_letter_message(letter, self._max_event_bytes)
        future: asyncio.Future[object] = await producer.send(
            self._dead_letters, value, key=letter.record.key, headers=headers
        )
        return future
