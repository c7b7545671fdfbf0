"""Prometheus metrics of the worker and of replay, on a registry that is passed in.

Labels take values only from small fixed sets (topic names from settings, event types, the
rejection reasons of ``schemas.decode.REASONS``): never a user, chat, school or event id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from stream.batch import Tally

#: Flush durations run from a few ms (embedded store) to tens of seconds (a server under load);
#: without buckets in that range the slow flushes that matter would all land in +Inf.
FLUSH_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.consumed = Counter(
            "sferum_events_consumed", "Messages consumed, by source topic.", ["topic"], registry=registry
        )
        self.counted = Counter("sferum_events_counted", "Valid new events applied to the state.", registry=registry)
        self.ignored = Counter(
            "sferum_events_ignored", "Valid events no indicator uses (non-teacher activity).", registry=registry
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
        self.flushed_rows = Counter("sferum_flush_rows", "Rows written to ClickHouse.", registry=registry)
        self.flush_failures = Counter("sferum_flush_failures", "Failed writes to ClickHouse.", registry=registry)
        self.flush_seconds = Histogram(
            "sferum_flush_duration_seconds", "Time to write one flush.", buckets=FLUSH_BUCKETS_S, registry=registry
        )
        self.pending_rows = Gauge("sferum_flush_pending_rows", "Rows waiting for a flush.", registry=registry)
        self.last_flush = Gauge(
            "sferum_flush_last_success_timestamp_seconds", "Unix time of the last successful flush.", registry=registry
        )
        self.stream_time = Gauge(
            "sferum_stream_time_seconds", "Newest event time counted, as Unix time.", registry=registry
        )

    def record(self, tally: Tally, newest_ts_ms: int) -> None:
        self.counted.inc(tally.counted)
        self.ignored.inc(tally.ignored)
        self.duplicates.inc(tally.duplicates)
        for reason, n in tally.rejected.items():
            self.rejected.labels(reason).inc(n)
        if newest_ts_ms >= 0 and newest_ts_ms / 1000 > self.stream_time._value.get():
            self.stream_time.set(newest_ts_ms / 1000)
