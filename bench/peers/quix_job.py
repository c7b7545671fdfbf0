"""The worker's job written with Quix Streams, as a peer to measure ``sferum-kpi worker`` against.

Per teacher and week (Monday 00:00 Europe/Moscow, ``stream.core.week.WeekCalendar``): group chats
created, group messages, chat messages, calls, and the version (distinct events applied), the
same columns and meaning as ``sferum.teacher_week``. Messages are decoded by
``schemas.decode.decode`` (Kafka key checked, as the worker does), an ``event_id`` seen before for
the user counts once, and the rows go to a fresh embedded store through
``sinks.clickhouse.ClickHouseSink.write``. Only ``teacher_week`` is kept: no ``staff_week``,
registrations, dead letters, lateness or metrics, so this job does less than the worker.

Written as Quix intends it, tuned where that is fair: one stateful ``apply`` over raw bytes
(state in RocksDB with its changelog topic, as the worker's Faust table), ``filter``, and a sink
that Quix flushes at each checkpoint before it commits offsets (the worker's order of
durability). State values are packed bytes (``get_bytes``/``set_bytes``), not JSON. The
checkpoint follows the worker's flush: every 2 s or 200,000 messages. Exactly-once is off.
The job stops once every partition is processed up to its end offset at start.

Run (needs ``quixstreams``: ``pip install -e '.[bench]'``)::

    python -m bench.peers.quix_job --broker 127.0.0.1:9092 --topic T --group G \\
        --store chdb:///tmp/q/store --state-dir /tmp/q/state

It prints one JSON line: counts and the wall-clock instants of start, first and last message, end.

The counting (``TeacherWeekCounter``), the row buffer and the end-offset tracker are plain Python
and import without Quix, so the unit tests run them on a dict.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.decode import Rejection, decode
from schemas.rows import PendingRows, TeacherWeekRow
from stream.core.week import WeekCalendar

#: activity (distinct events: the row's version), group_chats_created, group_messages,
#: chat_messages, calls; little-endian unsigned 32-bit, 20 bytes per user and week.
COUNTERS = struct.Struct("<5I")
_ZERO = COUNTERS.pack(0, 0, 0, 0, 0)
_SEEN = b"\x01"
ACTIVITY_TYPES = frozenset({"chat_created", "message_sent", "call"})

#: Defaults that mirror the worker's flush (``SFERUM_FLUSH_INTERVAL_S``,
#: ``SFERUM_FLUSH_MAX_PENDING_EVENTS``), so both make data durable as often.
COMMIT_INTERVAL_S = 2.0
COMMIT_EVERY_MESSAGES = 200_000


class KeyState(Protocol):
    """What the counting needs of Quix's per-key ``State`` (keys are prefixed by the message key)."""

    def get_bytes(self, key: bytes, default: bytes | None = None) -> bytes | None: ...

    def set_bytes(self, key: bytes, value: bytes) -> None: ...


@dataclass(slots=True)
class CountTally:
    consumed: int = 0
    counted: int = 0
    duplicates: int = 0
    skipped: int = 0  # rejected by the decoder, or not a teacher's activity


class TeacherWeekCounter:
    """Apply one message to its user's state; return the teacher_week row it changed, or None."""

    def __init__(
        self,
        calendar: WeekCalendar,
        *,
        future_tolerance_ms: int = 300_000,
        max_bytes: int = 64 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.calendar = calendar
        self.tally = CountTally()
        self._future_ms = future_tolerance_ms
        self._max_bytes = max_bytes
        self._clock = clock

    def __call__(self, value: bytes, key: bytes | None, state: KeyState) -> TeacherWeekRow | None:
        tally = self.tally
        tally.consumed += 1
        event = decode(
            value,
            now_ms=int(self._clock() * 1000),
            future_tolerance_ms=self._future_ms,
            max_bytes=self._max_bytes,
            key=key,
            check_key=True,
        )
        if isinstance(event, Rejection) or event.role != "teacher" or event.type not in ACTIVITY_TYPES:
            tally.skipped += 1
            return None
        seen_key = b"e" + event.event_id.encode()
        if state.get_bytes(seen_key) is not None:
            tally.duplicates += 1
            return None
        state.set_bytes(seen_key, _SEEN)
        week = self.calendar.week_of(event.ts)
        week_key = b"w" + week.to_bytes(4, "big", signed=True)
        activity, chats, group, messages, calls = COUNTERS.unpack(state.get_bytes(week_key) or _ZERO)
        activity += 1
        kind = event.chat_kind
        if event.type == "message_sent":
            if kind == "group":
                group += 1
                messages += 1
            elif kind == "personal":
                messages += 1
        elif event.type == "chat_created":
            if kind == "group":
                chats += 1
        else:  # call
            calls += 1
        state.set_bytes(week_key, COUNTERS.pack(activity, chats, group, messages, calls))
        tally.counted += 1
        return TeacherWeekRow(week, event.user_id, chats, group, messages, calls, activity)


@dataclass(slots=True)
class RowBuffer:
    """Rows changed since the last checkpoint, newest per (teacher, week): what a flush writes."""

    rows: dict[tuple[str, int], TeacherWeekRow] = field(default_factory=dict)
    written: int = 0

    def add(self, row: TeacherWeekRow) -> None:
        self.rows[(row.teacher_id, row.week_start)] = row

    def take(self) -> PendingRows:
        pending = PendingRows(teacher_weeks=self.rows)
        self.rows = {}
        return pending


class EndOffsets:
    """Tells when every partition is processed up to its end offset at start."""

    def __init__(self, ends: Mapping[int, tuple[int, int]]) -> None:
        #: partition -> last offset to process; partitions that were empty are done already
        self._last = {p: end - 1 for p, (begin, end) in ends.items() if end > begin}

    @property
    def done(self) -> bool:
        return not self._last

    def processed(self, partition: int, offset: int) -> bool:
        """Note a processed offset; True once nothing is left."""
        last = self._last.get(partition)
        if last is not None and offset >= last:
            del self._last[partition]
        return not self._last


def watermarks(broker: str, topic: str) -> dict[int, tuple[int, int]]:
    """(low, high) offsets of every partition of the topic, with Quix's own client."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker, "group.id": "bench-watermarks", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30) for p in sorted(partitions)}
    finally:
        consumer.close()


def run(
    *,
    broker: str,
    topic: str,
    group: str,
    store: str,
    state_dir: str,
    timezone: str = "Europe/Moscow",
    commit_interval_s: float = COMMIT_INTERVAL_S,
    commit_every: int = COMMIT_EVERY_MESSAGES,
) -> dict[str, Any]:
    from quixstreams import Application
    from quixstreams.sinks import BaseSink

    from sinks.clickhouse import ClickHouseSink

    started_at = time.time()
    clickhouse = ClickHouseSink(dsn=store, database="sferum", timezone=timezone)
    clickhouse.ensure_schema()
    counter = TeacherWeekCounter(WeekCalendar(timezone))
    buffer = RowBuffer()

    class TeacherWeekSink(BaseSink):
        """Quix flushes sinks at each checkpoint, before the changelog and the offset commit;
        one insert per checkpoint for all partitions, as the worker's flush."""

        def add(self, value: Any, key: Any, timestamp: int, headers: Any, topic: str, partition: int, offset: int):
            buffer.add(value)

        def flush(self) -> None:
            if buffer.rows:
                buffer.written += clickhouse.write(buffer.take())

    ends = EndOffsets(watermarks(broker, topic))
    marks: dict[str, float] = {}
    stop: list[Callable[[], None]] = []  # app.stop, once the app exists

    def on_processed(topic_name: str, partition: int, offset: int) -> None:
        if "first" not in marks:
            marks["first"] = time.time()
        if ends.processed(partition, offset):
            marks["last"] = time.time()
            stop[0]()  # Quix leaves its loop and commits a last checkpoint (sink flush, then offsets)

    app = Application(
        broker_address=broker,
        consumer_group=group,
        auto_offset_reset="earliest",
        commit_interval=commit_interval_s,
        commit_every=commit_every,
        state_dir=state_dir,
        loglevel="WARNING",
        use_changelog_topics=True,
        processing_guarantee="at-least-once",
        on_message_processed=on_processed,
    )
    stop.append(app.stop)
    source = app.topic(topic, value_deserializer="bytes", key_deserializer="bytes")
    sdf = app.dataframe(source)
    sdf = sdf.apply(lambda value, key, ts, headers, state: counter(value, key, state), stateful=True, metadata=True)
    sdf = sdf.filter(lambda row: row is not None)
    sdf.sink(TeacherWeekSink())
    if not ends.done:
        app.run()
    clickhouse.close()
    tally = counter.tally
    return {
        "consumed": tally.consumed,
        "counted": tally.counted,
        "duplicates": tally.duplicates,
        "skipped": tally.skipped,
        "rows_written": buffer.written,
        "started_at": started_at,
        "first_event_at": marks.get("first"),
        "last_event_at": marks.get("last"),
        "finished_at": time.time(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.quix_job", description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", required=True, help="host:port")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True, help="consumer group (fresh: reads from the start)")
    parser.add_argument("--store", required=True, help="chdb:///abs/path of a fresh embedded store")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--commit-interval", type=float, default=COMMIT_INTERVAL_S, help="seconds between checkpoints")
    parser.add_argument("--commit-every", type=int, default=COMMIT_EVERY_MESSAGES, help="messages between checkpoints")
    args = parser.parse_args(argv)
    result = run(
        broker=args.broker,
        topic=args.topic,
        group=args.group,
        store=args.store,
        state_dir=args.state_dir,
        commit_interval_s=args.commit_interval,
        commit_every=args.commit_every,
    )
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
