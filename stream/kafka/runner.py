"""The worker's input loop: fetch, decode, merge by event time, apply; checkpoints; rebalances.

One asyncio task runs the loop. Applying a batch is synchronous and takes the runner's lock, so a
rebalance callback or a checkpoint's snapshot never sees half a batch. Every effect of an applied
record becomes durable only through a checkpoint (``stream.kafka.checkpoint``), whose transaction
per partition is fenced by the partition's transactional id: whatever the timing of fetches,
rebalances and crashes, what is committed for a partition is always a state and the offsets of
exactly the records that made it.

At a rebalance every task is checkpointed one last time (bounded) and dropped; the assignment
that follows starts a task per partition (``stream.kafka.lifecycle``), which restores from the
local store and the changelog, cheaply when this worker owned the partition just before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from schemas.rows import PendingRows
from sinks.clickhouse import first_line
from stream.core.batch import BatchProcessor, Decoded, Record, decode_records
from stream.kafka.assignor import copartitioned_assignor
from stream.kafka.checkpoint import Committer, Outcome, take_snapshot
from stream.kafka.clients import changelog_topic
from stream.kafka.deadletters import Source
from stream.kafka.lifecycle import TaskStarter
from stream.kafka.ports import FetchedRecord, InputConsumer, Kafka
from stream.kafka.task import PartitionTask
from stream.settings import Settings
from stream.worker.kpi_gauges import RegionKpiGauges
from stream.worker.metrics import Metrics

log = logging.getLogger(__name__)

FETCH_TIMEOUT_MS = 100
#: Records taken from the consumer at a time. They are applied in slices of at most
#: ``SFERUM_BATCH_MAX_EVENTS`` per task, the event loop turning between two, so that a
#: checkpoint's transactions (a few round trips each) never wait behind a long apply.
FETCH_MAX_RECORDS = 5_000
#: Records buffered per input partition before it is paused: a topic that runs ahead in event
#: time waits in memory for the others only up to this.
MAX_BUFFERED = 5_000
#: How long a rebalance waits for the last checkpoint before it drops the tasks uncommitted
#: (their records are read again by the next owner). Well under the group's rebalance timeout.
REVOKE_CHECKPOINT_S = 30.0


class Runner(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka's ABC is untyped
    def __init__(
        self,
        settings: Settings,
        *,
        kafka: Kafka,
        write_rows: Callable[[PendingRows], Awaitable[int]],
        metrics: Metrics,
        gauges: RegionKpiGauges,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.kafka = kafka
        self.metrics = metrics
        self.gauges = gauges
        self._clock = clock
        self.processor = BatchProcessor(settings, check_key=True, clock=clock)
        self.tasks: dict[int, PartitionTask] = {}
        #: Made in ``run``: aiokafka's clients need the running event loop.
        self._consumer: InputConsumer | None = None
        self._starter: TaskStarter | None = None
        self.committer = Committer(
            write_rows=write_rows,
            group_id=settings.app_id,
            changelog_topic=changelog_topic(settings),
            dead_letter_topic=settings.dead_letter_topic,
            max_event_bytes=settings.max_event_bytes,
            on_store_error=self._store_failed,
            retry_initial_s=settings.flush_retry_initial_s,
            retry_max_s=settings.flush_retry_max_s,
        )
        self._lock = asyncio.Lock()  # applying a batch, taking a snapshot, changing the tasks
        self._commit_lock = asyncio.Lock()  # one checkpoint at a time
        self._checkpoint: asyncio.Task[None] | None = None
        self._last_checkpoint = time.monotonic()
        self._pending_events = 0
        self._rows_in_flight = 0
        self._stopping = asyncio.Event()
        self.last_commit_ok = time.time()
        #: Set when the loop failed (a bug, or a fatal Kafka error): the worker exits with an error.
        self.failed: BaseException | None = None

    # The loop -----------------------------------------------------------------------------------

    @property
    def consumer(self) -> InputConsumer:
        assert self._consumer is not None, "the runner has not started"
        return self._consumer

    @property
    def starter(self) -> TaskStarter:
        assert self._starter is not None, "the runner has not started"
        return self._starter

    async def run(self) -> None:
        self._consumer = self.kafka.input_consumer(
            assignor=copartitioned_assignor(lambda: list(self.tasks)), listener=self
        )
        self._starter = TaskStarter(self.settings, self._consumer, self.kafka, gauges=self.gauges, metrics=self.metrics)
        await self.consumer.start()
        while not self._stopping.is_set():
            fetched = await self.consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS, max_records=FETCH_MAX_RECORDS)
            async with self._lock:
                self._buffer(fetched)
            while True:
                slice_ = self.settings.batch_max_events
                if self._checkpoint is not None and not self._checkpoint.done():
                    slice_ = max(1, slice_ // 4)  # more turns of the loop for its round trips
                async with self._lock:
                    applied = self._apply_ready(slice_)
                if not applied:
                    break
                # between slices the loop runs the rest: a checkpoint's transactions, heartbeats
                await asyncio.sleep(0)
            async with self._lock:
                self._past_non_records()
            await self._maybe_checkpoint()

    def _buffer(self, fetched: Mapping[TopicPartition, Sequence[FetchedRecord]]) -> None:
        """Decode fetched records into their task's buffers; skip what was buffered already."""
        if not fetched:
            return
        now_ms = int(self._clock() * 1000)
        for tp, records in fetched.items():
            task = self.tasks.get(tp.partition)
            if task is None or not task.running or tp not in task.merge.buffers:
                continue  # not ours, or not sought yet: read again from the committed offset
            expected = task.fetched_next[tp]
            if records[0].offset < expected:  # read again after a rebalance; already buffered
                records = [r for r in records if r.offset >= expected]
                if not records:
                    continue
            if records[0].offset > expected:
                self.metrics.offset_gaps.labels(tp.topic).inc()  # markers of transactions, or a hole
            topic, partition = tp.topic, tp.partition
            batch = [Record(r.value or b"", r.key, Source(topic, partition, r.offset)) for r in records]
            task.merge.add(tp, decode_records(batch, now_ms=now_ms, settings=self.settings, check_key=True))
            task.fetched_next[tp] = records[-1].offset + 1
            if task.merge.buffered(tp) >= MAX_BUFFERED and tp not in task.paused:
                self.consumer.pause(tp)
                task.paused.add(tp)

    def _apply_ready(self, limit: int) -> int:
        """Apply up to ``limit`` records in all, shared by the tasks; how many were applied."""
        now = time.monotonic()
        applied = 0
        running = [task for task in self.tasks.values() if task.running]
        share = max(1, limit // max(1, len(running)))
        for task in running:
            batch = task.merge.take(now, lambda tp: self._caught_up(tp), share)
            if batch:
                self._apply(task, batch)
                applied += len(batch)
            if task.paused:
                ready = [tp for tp in task.paused if task.merge.buffered(tp) < MAX_BUFFERED // 2]
                if ready:
                    self.consumer.resume(*ready)
                    task.paused.difference_update(ready)
        return applied

    def _past_non_records(self) -> None:
        """Where every record handed over is applied and the consumer's position is further on, the
        offsets between hold no record (transaction markers, aborted records: the consumer moves
        past them only after handing over every record before them), and the applied offset moves
        to the position. Else the commit would stop at a partition's last record, short of its end
        by the marker of a producer upstream that writes in transactions: a drain never finishes,
        and the lag never reaches 0."""
        for task in self.tasks.values():
            if not task.running:
                continue
            for tp in task.tps:
                fetched = task.fetched_next.get(tp)
                if fetched is None or task.next_offset.get(tp.topic) != fetched or task.merge.buffered(tp):
                    continue
                position, _ = self.consumer.fetch_state(tp)
                if position is not None and position > fetched:
                    task.fetched_next[tp] = task.next_offset[tp.topic] = position

    def _caught_up(self, tp: TopicPartition) -> bool:
        """Nothing more of the partition on the broker than what this worker was given."""
        position, end = self.consumer.fetch_state(tp)
        return position is not None and end is not None and position >= end

    def _apply(self, task: PartitionTask, batch: list[Decoded]) -> None:
        outcome = self.processor.apply(batch, task.users)
        newest = -1
        consumed: Counter[tuple[str, str]] = Counter()
        next_offset = task.next_offset
        for item in batch:
            source: Source = item.record.origin
            next_offset[source.topic] = source.offset + 1
            consumed[(source.topic, item.type)] += 1
            if item.ts > newest:
                newest = item.ts
        self.metrics.count_consumed(consumed)
        task.letters.extend(outcome.dead_letters)
        task.events_since_commit += len(batch)
        self._pending_events += len(batch)
        self.metrics.clock.observe({task.number: newest})
        self.metrics.record(outcome.tally, outcome.counted_by_type)
        self._set_pending_gauge()
        for source, week in outcome.hot_weeks:
            self.metrics.hot_user_weeks.inc()
            log.warning(
                "an account of partition %d passed %d events in the week of day %d (offset %d of %s)",
                task.number,
                self.settings.hot_user_events,
                week,
                source.offset,
                source.topic,
            )

    # Checkpoints --------------------------------------------------------------------------------

    async def _maybe_checkpoint(self) -> None:
        over = self._pending_events >= self.settings.flush_max_pending_events
        if self._checkpoint is not None and not self._checkpoint.done():
            if over:  # backpressure: bound what is applied and not yet durable
                await asyncio.wait([self._checkpoint])
            return
        if over or time.monotonic() - self._last_checkpoint >= self.settings.flush_interval_s:
            self._checkpoint = asyncio.create_task(self.checkpoint(), name="checkpoint")

    async def checkpoint(self) -> None:
        """One checkpoint of everything applied so far; one at a time (each partition's producer
        has one transaction at a time)."""
        async with self._commit_lock:
            self._last_checkpoint = time.monotonic()
            snapshot_started = time.perf_counter()
            async with self._lock:
                snapshot = take_snapshot(self.tasks.values(), self.processor)
                self._pending_events = max(0, self._pending_events - snapshot.events)
            if snapshot.empty:
                self._committed_ok()
                return
            started = time.perf_counter()
            log.info(
                "checkpoint: %d rows, %d partitions, %d events; snapshot taken in %.3f s",
                len(snapshot.rows),
                len(snapshot.parts),
                snapshot.events,
                started - snapshot_started,
            )
            self._rows_in_flight = len(snapshot.rows)
            try:
                outcome = await self.committer.commit(snapshot)
            finally:
                self._rows_in_flight = 0
            self._note(outcome, time.perf_counter() - started)
            for task in outcome.lost:
                await self._lost(task)

    def _note(self, outcome: Outcome, seconds: float) -> None:
        self.metrics.flush_seconds.observe(seconds)
        self.metrics.flushed_rows.inc(outcome.rows)
        self.metrics.partitions_lost.inc(len(outcome.lost))
        if outcome.failed:
            self.metrics.flush_failures.labels("transaction").inc(len(outcome.failed))
        else:
            self._committed_ok()
        self._set_pending_gauge()

    def _set_pending_gauge(self) -> None:
        # rows of a checkpoint still being written are waiting too
        self.metrics.pending_rows.set(len(self.processor.pending) + self._rows_in_flight)

    def _committed_ok(self) -> None:
        self.last_commit_ok = time.time()
        self.metrics.last_flush.set(self.last_commit_ok)

    def _store_failed(self, exc: BaseException, retry_in_s: float) -> None:
        self.metrics.flush_failures.labels("store").inc()
        log.warning("writing rows to ClickHouse failed, retrying in %.1f s: %s", retry_in_s, first_line(exc))

    # Rebalances ---------------------------------------------------------------------------------

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Before the group rebalances: a last checkpoint (bounded), then every task goes."""
        try:
            await asyncio.wait_for(self.checkpoint(), REVOKE_CHECKPOINT_S)
        except Exception as exc:  # TimeoutError too: the next owners read those records again
            log.warning("the checkpoint before a rebalance did not finish: %s", first_line(exc) or type(exc).__name__)
        async with self._lock:
            for task in list(self.tasks.values()):
                await self._drop(task)
            self.processor.take_pending()  # rows of uncommitted records: their next owner writes them
            self._pending_events = 0

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        numbers = sorted({tp.partition for tp in assigned if tp.topic in self.settings.consumed_topics})
        if self._stopping.is_set():  # a rebalance while stopping: no task starts (nor fences another)
            return
        async with self._lock:
            for number in numbers:
                if number not in self.tasks:
                    self.tasks[number] = self.starter.new_task(number)
        self.metrics.assigned.set(len(numbers) * len(self.settings.consumed_topics))

    async def _lost(self, task: PartitionTask) -> None:
        """A partition whose producer was fenced: another member started one for it. Dropped; if the
        group still says it is ours (the fence came from a transaction the broker timed out, or
        the other member is the stale one), started again from its committed state."""
        log.warning("partition %d: this worker's producer was fenced; restarting the partition", task.number)
        async with self._lock:
            await self._drop(task)
            if set(task.tps) <= self.consumer.assignment() and task.number not in self.tasks:
                self.tasks[task.number] = self.starter.new_task(task.number)

    async def _drop(self, task: PartitionTask) -> None:
        if self.tasks.get(task.number) is task:
            del self.tasks[task.number]
        await self.starter.close_task(task)

    def consumer_lag(self) -> list[tuple[str, int, int]]:
        """Per input partition owned: records on the broker not applied yet."""
        lag: list[tuple[str, int, int]] = []
        if self._consumer is None:
            return lag
        for task in list(self.tasks.values()):
            if not task.running:
                continue
            for tp in task.tps:
                _, end = self.consumer.fetch_state(tp)
                if end is not None:
                    lag.append((tp.topic, tp.partition, max(0, end - task.next_offset.get(tp.topic, end))))
        return lag

    def applied(self) -> dict[TopicPartition, int]:
        """Per input partition owned and running: the offset after the last record applied."""
        return {
            TopicPartition(topic, task.number): offset
            for task in list(self.tasks.values())
            if task.running
            for topic, offset in task.next_offset.items()
        }

    # Stop ---------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stopping.set()

    @property
    def static_member(self) -> bool:
        """A static member (``SFERUM_INSTANCE_ID``): stopping does not leave the group, and the
        group waits the session timeout for it to come back before its partitions move."""
        return bool(self.settings.instance_id)

    async def stop(self) -> None:
        """A last checkpoint (bounded), and every task dropped; the consumer stays in the group
        (heartbeats) until ``leave``."""
        self._stopping.set()
        try:
            await asyncio.wait_for(self.checkpoint(), REVOKE_CHECKPOINT_S)
        except Exception as exc:
            log.warning("the last checkpoint did not finish: %s", first_line(exc) or type(exc).__name__)
        async with self._lock:
            for task in list(self.tasks.values()):
                await self._drop(task)

    async def leave(self) -> None:
        """Stop the consumer: a dynamic member leaves the group (its partitions move at once); a
        static one stops its heartbeats (aiokafka sends no LeaveGroup for it), and its session
        timeout runs from here."""
        if self._consumer is not None:
            await self._consumer.stop()
