"""The worker's side of the core: state in a Faust table, flushes to ClickHouse, offset commits.

Order of durability, which is what makes the counts exact:

1. a batch is applied to the per-user state (one table write per user), its rows become
   pending and its offsets are remembered, but nothing is acknowledged to Faust: the input
   topic has acks disabled, so Faust never commits its offsets by itself;
2. a flush takes the pending rows and offsets, writes the rows to ClickHouse (retrying with
   backoff while the store fails; processing goes on meanwhile, up to a bound), then flushes
   the producer (state changelog and dead letters), and only then commits the offsets.

A crash anywhere re-reads events after the last commit; the state restored from the
changelog recognises them by ``event_id``, and their rows are written again (re-writes are
idempotent: ReplacingMergeTree by version).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from faust.streams import _current_event  # the context variable Faust's tables read
from faust.types import TP, Message

from sinks.clickhouse import ClickHouseSink, StoreError, first_line
from sinks.kpi import refresh_kpi
from sinks.registry import teacher_regions
from stream.batch import BatchProcessor, DeadLetter, PendingRows, Record
from stream.contiguity import Contiguity
from stream.core import decode_state
from stream.kpi_gauges import RegionKpiGauges
from stream.metrics import Metrics
from stream.settings import Settings
from stream.week import WeekCalendar, week_date

log = logging.getLogger(__name__)


#: How long a rebalance waits for the broker to acknowledge the changelog sent before it. Well
#: under the group's rebalance timeout; a longer wait stops the commits (``Pipeline.settle``).
SETTLE_TIMEOUT_S = 20.0


class _Current:
    """What Faust's table and store read from the "current event": its ``message``."""

    __slots__ = ("message", "__weakref__")

    def __init__(self, message: Message) -> None:
        self.message = message


class TableState:
    """Per-user state in a Faust table's store, its changes collected for the changelog
    (``stream.changelog``). The store takes the partition from the current event, a context
    variable of the running task: before each access it is set to one of that user's messages.

    Only the context variable is set, never a stream's ``current_event`` attribute: the task
    that fills ``take_events``' buffer reads that attribute after waiting for a batch to be
    processed, and when the batch had changed it, the buffer got an event of the old batch in
    place of the new message (one message lost, another delivered twice, under load)."""

    def __init__(self, table: Any, changelog: Any) -> None:
        self._store = table.data  # written directly: the changelog is sent by ``changelog``
        self._changelog = changelog
        self._current: _Current | None = None  # the context variable holds a weak reference

    def _set_current(self, origin: Message) -> None:
        if self._current is None or self._current.message is not origin:
            self._current = _Current(origin)
            _current_event.set(weakref.ref(self._current))

    def get(self, user_id: str, origin: Message) -> bytes | None:
        self._set_current(origin)
        value: bytes | None = self._store.get(user_id.encode())
        return value

    def put(self, user_id: str, origin: Message, value: bytes) -> None:
        self._set_current(origin)
        key = user_id.encode()
        self._store[key] = value
        self._changelog.add(origin.partition, key, value)


class Pipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        sink: ClickHouseSink,
        metrics: Metrics,
        commit: Any,
        flush_producer: Any,
        send_dead_letter: Any,
        highwaters: Any = None,
        changelog: Any,
        is_current: Callable[[Message], bool] = lambda message: True,
        log_start: Any = None,
        seek: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.metrics = metrics
        self.gauges = RegionKpiGauges(WeekCalendar(settings.timezone), clock=clock)
        self.processor = BatchProcessor(settings, check_key=True, clock=clock, on_state=self.gauges.update)
        self._commit = commit
        self._flush_producer = flush_producer
        self._send_dead_letter = send_dead_letter
        self._highwaters = highwaters
        #: Collects and sends the state's changelog (``stream.changelog.ChangelogWriter``).
        self._changelog = changelog
        #: Whether a message may still be applied: read in this group generation, the flow not
        #: stopped by a rebalance (``stream.transport.current_messages``).
        self._is_current = is_current
        #: Input partitions are applied without holes; a hole makes the pipeline seek back, with
        #: ``seek(tp, offset)``, or from the log's start (``log_start(tp)``) if retention took it.
        self.topics = frozenset(settings.consumed_topics)
        self.contiguity = Contiguity(self.topics)
        self._log_start = log_start
        self._seek = seek
        #: Set when a state change never reached the changelog: committing offsets after it
        #: could skip events whose state is lost, so no offset is committed until a restart.
        self.commits_blocked = False
        self._dead_letters_sent: list[Any] = []
        #: Per input partition: its end offset when this worker started reading it. Until the
        #: partition is read past it, its users drop no week: a crashed owner may have applied
        #: events after the last commit whose rows it never flushed, and only re-reading them
        #: (they then pin their weeks) tells which weeks those are.
        self._hold_until: dict[TP, int] = {}
        self.processor.holding = self._is_holding
        self._table: Any = None
        self._pending_offsets: dict[TP, int] = {}
        #: Next offset to process per input partition (for the consumer-lag metric).
        self.processed: dict[TP, int] = {}
        self._pending_events = 0
        self._lock = asyncio.Lock()  # a batch and the swap of pending data exclude each other
        self._flush_lock = asyncio.Lock()  # one flush at a time
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self.last_flush_ok = time.time()
        #: The earliest week changed since the last refresh of the stored indicators. A worker
        #: does not know what changed before it started, so its first refresh covers every week.
        self._refresh_from: int | None = 0

    def _is_holding(self, message: Message) -> bool:
        return bool(message.offset + 1 < self._hold_until.get(message.tp, 0))

    def forget_partitions(self) -> None:
        """On a new assignment: every partition is held again until read past its end offset."""
        self._hold_until = {}
        self.contiguity.forget()

    async def _learn_end_offsets(self, messages: Sequence[Message]) -> None:
        unknown = {m.tp for m in messages} - self._hold_until.keys()
        if unknown and self._highwaters is not None:
            ends = await self._highwaters(*unknown)
            for tp in unknown:
                self._hold_until[tp] = int(ends.get(tp, 0) or 0)

    def attach_table(self, table: Any) -> None:
        self._table = table

    async def deliver(self, messages: Sequence[Message]) -> None:
        """One fetch of the input topics (``stream.delivery``), in batches of at most
        ``batch_max_events``. (Nothing goes through Faust's producer buffer, which its conductor
        waits on per message: the changelog is sent in batches, dead letters are awaited.)"""
        size = self.settings.batch_max_events
        for start in range(0, len(messages), size):
            await self.on_batch(messages[start : start + size])

    async def on_batch(self, messages: Sequence[Message]) -> None:
        """Apply a batch of input messages, but for those no longer current by then.

        A message read before a rebalance is not current once the rebalance has begun: its
        partition may be another worker's now, and a state change written to that partition's
        changelog after the other worker had restored it would overwrite that worker's newer
        state the next time the changelog is read (the rebalance fault test lost hundreds of
        counts this way). Such messages are dropped unapplied; the seek to the committed offsets
        that ends every rebalance reads them again, here or on their new owner.

        Nor is a message applied past a hole in its partition (``stream.contiguity``): the
        partition is read again from the hole."""
        if self._pending_events >= self.settings.flush_max_pending_events:
            await self.flush()  # backpressure: bound what is held before it is durable
        await self._learn_end_offsets(messages)
        async with self._lock:
            current = [m for m in messages if self._is_current(m)]
            if len(current) < len(messages):
                log.debug("dropped %d events read before a rebalance", len(messages) - len(current))
            messages, holes = self.contiguity.admit(current)
            if messages:
                await self._apply(messages)
        if holes:
            await self._seek_back(holes)

    async def _apply(self, messages: Sequence[Message]) -> None:
        """Apply messages to the state (under the lock); their offsets become pending."""
        log.debug("batch of %d events", len(messages))
        records = [Record(m.value if m.value is not None else b"", m.key, m) for m in messages]
        outcome = self.processor.process(records, TableState(self._table, self._changelog))
        await self._changelog.send()
        offsets = self._pending_offsets
        newest: dict[int, int] = {}
        consumed: Counter[tuple[str, str]] = Counter()
        for message, etype, ts in zip(messages, outcome.record_types, outcome.record_ts, strict=True):
            consumed[(message.topic, etype)] += 1
            if offsets.get(message.tp, -1) <= message.offset:
                offsets[message.tp] = message.offset + 1
                self.processed[message.tp] = message.offset + 1
            if ts > newest.get(message.partition, -1):
                newest[message.partition] = ts
        self.metrics.clock.observe(newest)
        for (topic, etype), count in consumed.items():
            self.metrics.consumed.labels(topic, etype).inc(count)
        self._pending_events += len(messages)
        # every metric of the batch changes before the first await: a scrape sees all or none
        self.metrics.record(outcome.tally, outcome.counted_by_type)
        self._set_pending_gauge()
        for letter in outcome.dead_letters:
            sent = await self._send_dead_letter(letter)
            if sent is not None:  # a future that resolves once the broker has the letter
                self._dead_letters_sent.append(sent)

    async def _seek_back(self, holes: dict[TP, int]) -> None:
        """Read partitions with a hole again from the hole (outside the lock: the consumer
        thread that answers may be waiting for a rebalance callback that takes the lock)."""
        for tp, expected in holes.items():
            try:
                start = int(await self._log_start(tp)) if self._log_start is not None else 0
                target = self.contiguity.seek_target(tp, expected, start)
                where = f"{tp.topic}[{tp.partition}]"
                if target > expected:
                    log.warning("%s: offsets %d-%d were deleted before they were read", where, expected, target - 1)
                log.warning("%s: a hole at offset %d; reading again from %d", where, expected, target)
                if self._seek is not None:
                    await self._seek(tp, target)
            except Exception as exc:  # e.g. revoked meanwhile: the rebalance seeks it anyway
                log.warning("seeking %s back to %d failed: %s", tp, expected, first_line(exc))

    async def settle(self) -> None:
        """At the start of a rebalance: wait for a batch being applied, then until the broker
        has every changelog message sent so far. The partitions' next owners (this worker
        among them) restore their state from the changelog after the rebalance, reading from
        the offset the acknowledgements recorded: all of it must be there by then."""
        async with self._lock:
            if await self._changelog.settle(SETTLE_TIMEOUT_S) or self.commits_blocked:
                return
            self.commits_blocked = True
            log.error(
                "the changelog was not acknowledged within %.0f s of a rebalance; no offset is "
                "committed until the worker restarts, which re-reads the events since the last commit",
                SETTLE_TIMEOUT_S,
            )

    async def flush(self) -> None:
        """Write pending rows, then commit the offsets they cover. Retries, with backoff, until
        the write succeeds or the worker stops (then nothing is committed: it is re-read)."""
        async with self._flush_lock:
            async with self._lock:
                rows = self.processor.take_pending()
                offsets, self._pending_offsets = self._pending_offsets, {}
                sent = [*self._changelog.take_sent(), *self._dead_letters_sent]
                self._dead_letters_sent = []
                self._pending_events = 0
            if not rows and not offsets and not sent:
                self.processor.flush_done()
                if not self.commits_blocked:
                    self._flushed_ok()  # nothing to write is a successful flush too
                return
            log.debug("flushing %d rows, committing %d partitions", len(rows), len(offsets))
            delay = self.settings.flush_retry_initial_s
            while True:
                started = time.perf_counter()
                try:
                    written = await self._run_store(self.sink.write, rows)
                    break
                except StoreError as exc:
                    self.metrics.flush_failures.inc()
                    self._set_pending_gauge()
                    log.warning("flush failed, retrying in %.1f s: %s", delay, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.settings.flush_retry_max_s)
            self.metrics.flush_seconds.observe(time.perf_counter() - started)
            self.metrics.flushed_rows.inc(written)
            self._note_changed_weeks(rows)
            self.processor.flush_done()
            await self._flush_producer()
            if not await self._acknowledged(sent):
                return
            if offsets:
                await self._commit(offsets)
            self._flushed_ok()

    async def _acknowledged(self, sent: Sequence[Any]) -> bool:
        """Wait until the broker has every changelog message and dead letter of the events
        whose offsets are to be committed."""
        results = await asyncio.gather(*sent, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and not self.commits_blocked:
            self.commits_blocked = True
            log.error(
                "%d state changes did not reach the changelog (%s); no offset is committed until "
                "the worker restarts, which re-reads the events since the last commit",
                len(failures),
                first_line(failures[0]),
            )
        if self.commits_blocked:
            self.metrics.flush_failures.inc()
            self._set_pending_gauge()
        return not self.commits_blocked

    def _flushed_ok(self) -> None:
        self.last_flush_ok = time.time()
        self.metrics.last_flush.set(self.last_flush_ok)
        self._set_pending_gauge()

    def _set_pending_gauge(self) -> None:
        # rows being retried by a failing flush are still waiting: count them
        self.metrics.pending_rows.set(len(self.processor.pending) + len(self.processor.in_flight))

    def _note_changed_weeks(self, rows: PendingRows) -> None:
        calendar = self.processor.policy.calendar
        weeks = [week for _, week in rows.teacher_weeks] + [week for _, week in rows.staff_weeks]
        weeks += [calendar.week_of(r.ts) for r in rows.registrations.values()]
        if weeks:
            earliest = min(weeks)
            self._refresh_from = earliest if self._refresh_from is None else min(self._refresh_from, earliest)

    async def load_teacher_regions(self) -> None:
        """The registry's teacher -> regions map for the gauges; kept as it was if the store fails."""
        try:
            self.gauges.regions_of = await self._run_store(teacher_regions, self.sink)
        except Exception as exc:
            log.warning("reading the registry for the KPI gauges failed, will retry: %s", first_line(exc))

    def rebuild_gauges(self) -> None:
        """After a rebalance: the gauges cover exactly the users of the partitions now owned."""
        if self._table is not None:
            self.gauges.rebuild((key.decode(), decode_state(value)) for key, value in self._table.items())

    async def refresh_kpi(self) -> None:
        """Recompute the stored indicators from the earliest week flushed since the last refresh
        (cumulative indicators of later weeks depend on it). A failure is retried next time."""
        start, self._refresh_from = self._refresh_from, None
        if start is None:
            return
        try:
            await self._run_store(refresh_kpi, self.sink, from_week=week_date(start))
        except Exception as exc:  # the store may be down: keep the week, try again next time
            log.warning("refreshing the indicators failed, will retry: %s", first_line(exc))
            self._refresh_from = start if self._refresh_from is None else min(start, self._refresh_from)

    async def _run_store(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def close(self) -> None:
        await self._run_store(self.sink.close)
        self._executor.shutdown(wait=True)


#: The most bytes of an original message a dead letter carries. Only a ``too_large`` message can
#: be longer than ``SFERUM_MAX_EVENT_BYTES`` (64 KiB); the producer refuses a record over its
#: request size (1 MB), and the broker one over its ``message.max.bytes`` (about 1 MB): sending a
#: 10 MB message as it is crashed the agent, and the worker stalled on it for good.
DEAD_LETTER_MAX_BYTES = 512 * 1024


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    message = letter.record.origin
    return [
        ("reason", letter.reason.encode()),
        ("detail", letter.detail.encode()),
        ("source_topic", message.topic.encode()),
        ("source_partition", str(message.partition).encode()),
        ("source_offset", str(message.offset).encode()),
    ]


def dead_letter_message(letter: DeadLetter, max_bytes: int) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The dead letter's value and headers: the original bytes, or, when they are longer than
    ``min(max_bytes, DEAD_LETTER_MAX_BYTES)``, their beginning, with headers ``truncated``
    (``true``), ``original_bytes`` and ``original_sha256`` to tell the whole message by."""
    value = letter.record.value
    headers = dead_letter_headers(letter)
    limit = min(max_bytes, DEAD_LETTER_MAX_BYTES)
    if len(value) <= limit:
        return value, headers
    headers += [
        ("truncated", b"true"),
        ("original_bytes", str(len(value)).encode()),
        ("original_sha256", hashlib.sha256(value).hexdigest().encode()),
    ]
    return bytes(value[:limit]), headers
