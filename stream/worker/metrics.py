"""Prometheus metrics of the worker, on a registry that is passed in.

Labels take values only from small fixed sets: topic names from the settings, the four event
types and ``invalid``, the rejection reasons of ``schemas.decode.REASONS``, partition numbers.
Never a user, chat, school or event id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas.decode import EVENT_TYPES, REASONS
from stream.core.batch import MessageTally

#: Flush durations run from a few ms (embedded store) to tens of seconds (a server under load);
#: without buckets in that range the slow flushes that matter would all land in +Inf.
FLUSH_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
INVALID = "invalid"  # the type label of a message that did not decode


class PartitionClock(Collector):
    """Stream time and event lag (now − stream time) per input partition, computed at scrape time;
    consumer lag (high watermark − next offset to process) per topic and partition."""

    def __init__(
        self,
        lag_source: Callable[[], Iterable[tuple[str, int, int]]] = lambda: (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stream_time_ms: dict[int, int] = {}
        self.lag_source = lag_source
        self._clock = clock

    def observe(self, newest_ms_by_partition: Mapping[int, int]) -> None:
        for partition, ts in newest_ms_by_partition.items():
            if ts > self.stream_time_ms.get(partition, -1):
                self.stream_time_ms[partition] = ts

    def collect(self) -> Iterable[Metric]:
        now = self._clock()
        stream_time = GaugeMetricFamily(
            "sferum_stream_time_seconds", "Newest event time seen, as Unix time, per partition.", labels=["partition"]
        )
        lag = GaugeMetricFamily(
            "sferum_event_lag_seconds", "Wall clock minus stream time, per partition.", labels=["partition"]
        )
        for partition, ts in sorted(self.stream_time_ms.items()):
            stream_time.add_metric([str(partition)], ts / 1000)
            lag.add_metric([str(partition)], now - ts / 1000)
        consumer = GaugeMetricFamily(
            "sferum_consumer_lag_messages",
            "Messages in the partition not yet processed by this worker.",
            labels=["topic", "partition"],
        )
        for topic, partition, messages in self.lag_source():
            consumer.add_metric([topic, str(partition)], messages)
        return [stream_time, lag, consumer]


class Metrics:
    def __init__(
        self, registry: CollectorRegistry, *, topics: Iterable[str] = (), clock: Callable[[], float] = time.time
    ) -> None:
        self.registry = registry
        self.consumed = Counter(
            "sferum_events_consumed",
            "Messages consumed, by source topic and event type.",
            ["topic", "type"],
            registry=registry,
        )
        self.counted = Counter(
            "sferum_events_counted", "Valid new events applied to the state, by type.", ["type"], registry=registry
        )
        self.ignored = Counter(
            "sferum_events_ignored",
            "Valid events no indicator uses (students' and parents' activity).",
            registry=registry,
        )
        self.duplicates = Counter(
            "sferum_events_duplicate", "Events whose event_id was already applied.", registry=registry
        )
        self.rejected = Counter(
            "sferum_events_rejected",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.late = Counter(
            "sferum_events_late", "Events rejected as late (also in sferum_events_rejected).", registry=registry
        )
        self.flushed_rows = Counter("sferum_flush_rows", "Rows written to ClickHouse.", registry=registry)
        self.flush_failures = Counter(
            "sferum_flush_failures",
            "Failed checkpoint steps: writing rows to ClickHouse (stage store, retried), or a partition's "
            "Kafka transaction (stage transaction, its records go in the next one).",
            ["stage"],
            registry=registry,
        )
        self.flush_seconds = Histogram(
            "sferum_flush_duration_seconds",
            "Time of one checkpoint: rows to ClickHouse, then one Kafka transaction per partition.",
            buckets=FLUSH_BUCKETS_S,
            registry=registry,
        )
        self.pending_rows = Gauge("sferum_flush_pending_rows", "Rows waiting for a checkpoint.", registry=registry)
        self.last_flush = Gauge(
            "sferum_flush_last_success_timestamp_seconds",
            "Unix time of the last checkpoint that committed everything it took.",
            registry=registry,
        )
        self.assigned = Gauge("sferum_assigned_partitions", "Input partitions this worker owns now.", registry=registry)
        self.partitions_lost = Counter(
            "sferum_partitions_lost",
            "Partitions dropped because another member's producer fenced this one's (it owns them now).",
            registry=registry,
        )
        self.restore_seconds = Histogram(
            "sferum_restore_duration_seconds",
            "Time to bring a partition's local state up to its changelog when it is assigned.",
            buckets=FLUSH_BUCKETS_S,
            registry=registry,
        )
        self.restored_records = Counter(
            "sferum_restored_records", "Changelog records read into local state at assignments.", registry=registry
        )
        self.offset_gaps = Counter(
            "sferum_input_offset_gaps",
            "Times a fetched record did not follow the last one buffered: the markers of producers' "
            "transactions, or records missing (a hole; see the runbook).",
            ["topic"],
            registry=registry,
        )
        self.hot_user_weeks = Counter(
            "sferum_hot_user_weeks",
            "Times one account passed SFERUM_HOT_USER_EVENTS events in one week (counted exactly all the same).",
            registry=registry,
        )
        self.align_holds = Counter(
            "sferum_align_holds",
            "Times a partition's records were held back for an input topic whose fetch had not come yet.",
            registry=registry,
        )
        self.align_held_seconds = Counter(
            "sferum_align_held_seconds",
            "Seconds a partition's records were held back for an input topic that was behind.",
            registry=registry,
        )
        self.kpi_refreshes = Counter(
            "sferum_kpi_refreshes",
            "Refreshes of the stored indicators (kpi_unit_week) from the earliest week changed since the last one.",
            ["outcome"],
            registry=registry,
        )
        self.kpi_refresh_seconds = Histogram(
            "sferum_kpi_refresh_duration_seconds",
            "Time of one refresh of the stored indicators.",
            buckets=FLUSH_BUCKETS_S,
            registry=registry,
        )
        self.kpi_current_as_of = Gauge(
            "sferum_kpi_current_as_of_timestamp_seconds",
            "Unix time up to which the stored indicators reflect every row this worker wrote: the start of "
            "its last successful refresh, or of a check that found nothing new to refresh.",
            registry=registry,
        )
        self.clock = PartitionClock(clock=clock)
        registry.register(self.clock)
        # Every label value exists from the start, so rate() and absent() work before the first event.
        for topic in topics:
            for etype in (*sorted(EVENT_TYPES), INVALID):
                self.consumed.labels(topic, etype)
        for etype in sorted(EVENT_TYPES):
            self.counted.labels(etype)
        for reason in REASONS:
            self.rejected.labels(reason)
        for stage in ("store", "transaction"):
            self.flush_failures.labels(stage)
        for outcome in ("ok", "failed"):
            self.kpi_refreshes.labels(outcome)
        for topic in topics:
            self.offset_gaps.labels(topic)

    def count_consumed(self, consumed: Mapping[tuple[str, str], int]) -> None:
        """Messages consumed in a batch, by (topic, type)."""
        for (topic, etype), n in consumed.items():
            self.consumed.labels(topic, etype).inc(n)

    def record(self, tally: MessageTally, counted_by_type: Mapping[str, int]) -> None:
        for etype, n in counted_by_type.items():
            self.counted.labels(etype).inc(n)
        self.ignored.inc(tally.ignored)
        self.duplicates.inc(tally.duplicates)
        for reason, n in tally.rejected.items():
            self.rejected.labels(reason).inc(n)
        self.late.inc(tally.rejected["late"])
