"""The Faust app, built by a factory from the settings: nothing is registered at import."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import faust
from faust.types import TP, StreamT
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent
from prometheus_client import CollectorRegistry

from sinks.clickhouse import ClickHouseSink
from stream.batch import DeadLetter
from stream.changelog import ChangelogWriter
from stream.delivery import BulkSink
from stream.faust_sensors import setup_sensors
from stream.flow import ResumeOnceFlowControl
from stream.metrics import Metrics
from stream.pipeline import Pipeline, dead_letter_message
from stream.settings import Settings
from stream.transport import ExactTransport, current_messages

STATE_TABLE = "user-state"


def raw_schema() -> faust.Schema:
    """Bytes in, bytes out: the decoder sees the original bytes, the dead-letter topic gets them
    back. A new object per use: Faust changes a schema it is given (a shared one made the input
    topic decode its keys as JSON once the table had taken it)."""
    return faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


class SferumApp(faust.App):
    """Faust's app with the consumer transport that re-reads every partition after a rebalance
    (``stream.transport``) and the flow control that keeps queued messages when the flow is
    resumed while running (``stream.flow``)."""

    #: Where the consumer's fetch loop hands the input messages, in bulk (``stream.delivery``);
    #: None: Faust's conductor and the agent's stream, one by one.
    bulk_sink: BulkSink | None = None
    #: Told the committed offsets each time the consumer seeks back to them (``stream.contiguity``).
    seek_listener: Callable[[Mapping[TP, int | None]], None] | None = None

    def _new_transport(self) -> ExactTransport:
        return ExactTransport(self.conf.broker_consumer, self)

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return ResumeOnceFlowControl(loop=self.loop)


def build_app(settings: Settings, *, registry: CollectorRegistry | None = None) -> tuple[faust.App, Pipeline]:
    app = SferumApp(
        settings.app_id,
        broker=settings.broker,
        store=settings.table_store,
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        autodiscover=False,
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        web_in_thread=False,
        consumer_auto_offset_reset="earliest",
        # Offsets are committed by the pipeline after each durable flush, never by Faust; the
        # input topic has acks disabled, so Faust's own commits have nothing to commit.
        stream_wait_empty=False,
        producer_acks=-1,
        producer_linger=settings.producer_linger_s,
        table_cleanup_interval=3600.0,
        # record batches of the state changelog (stream.changelog) up to 256 KiB, under the
        # producer's 1 MB request limit
        producer_max_batch_size=256 * 1024,
    )
    source = app.topic(*settings.consumed_topics, schema=raw_schema(), acks=False)
    dead_letters = app.topic(settings.dead_letter_topic, schema=raw_schema())
    # key_type and value_type bytes make the table store and changelog use the raw codec.
    table = app.Table(STATE_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions)

    async def send_dead_letter(letter: DeadLetter) -> Any:
        value, headers = dead_letter_message(letter, settings.max_event_bytes)
        return await dead_letters.send(key=letter.record.key, value=value, headers=headers)

    async def log_start(tp: TP) -> int:
        return int((await app.consumer.earliest_offsets(tp)).get(tp) or 0)

    async def commit(offsets: Mapping[TP, int]) -> None:
        await app.consumer._commit(offsets)

    async def flush_producer() -> None:
        await app.producer.flush()

    registry = registry if registry is not None else CollectorRegistry()
    metrics = Metrics(registry, topics=settings.consumed_topics)
    # Faust's own sensors, on the same registry, and the /metrics page of its web server.
    setup_sensors(app, registry=registry, name_prefix="sferum_faust")
    pipeline = Pipeline(
        settings=settings,
        sink=ClickHouseSink(**settings.sink_options),
        metrics=metrics,
        commit=commit,
        flush_producer=flush_producer,
        send_dead_letter=send_dead_letter,
        highwaters=lambda *tps: app.consumer.highwaters(*tps),
        changelog=ChangelogWriter(table, lambda: app.producer._ensure_producer()),
        is_current=current_messages(app),
        log_start=log_start,
        # in the consumer's own thread, as Faust's recovery seeks (aiokafka is not thread-safe)
        seek=lambda tp, offset: app.consumer.seek_wait({tp: offset}),
    )
    app.seek_listener = pipeline.contiguity.expect
    if settings.delivery == "bulk":
        app.bulk_sink = pipeline
    pipeline.attach_table(table)

    def consumer_lag() -> list[tuple[str, int, int]]:
        lag = []
        assigned = app.consumer.assignment()
        for tp, next_offset in list(pipeline.processed.items()):
            if tp not in assigned:  # highwater() of a partition not assigned raises
                continue
            highwater = app.consumer.highwater(tp)
            if highwater is not None:
                lag.append((tp.topic, tp.partition, max(0, highwater - next_offset)))
        return lag

    metrics.clock._lag_source = consumer_lag
    registry.register(pipeline.gauges)

    @app.on_partitions_assigned.connect
    async def hold_new_partitions(*args: object, **kwargs: object) -> None:
        pipeline.forget_partitions()

    @app.on_partitions_revoked.connect
    async def settle_state(*args: object, **kwargs: object) -> None:
        # sent after Faust has stopped the flow: no batch is applied from here on
        await pipeline.settle()

    @app.on_rebalance_complete.connect
    async def gauges_follow_partitions(*args: object, **kwargs: object) -> None:
        pipeline.rebuild_gauges()
        owned = [tp for tp in app.consumer.assignment() if tp.topic in settings.consumed_topics]
        metrics.assigned.set(len(owned))

    # The input topics' subscriber. With bulk delivery its stream receives nothing: the consumer
    # hands the messages to the pipeline itself.
    @app.agent(source, name="count-teacher-weeks")
    async def count(stream: StreamT) -> None:
        async for events in stream.take_events(settings.batch_max_events, within=settings.batch_window_s):
            await pipeline.on_batch([event.message for event in events])

    @app.timer(interval=settings.flush_interval_s)
    async def flush_timer() -> None:
        await pipeline.flush()

    @app.timer(interval=settings.kpi_refresh_interval_s)
    async def refresh_timer() -> None:
        await pipeline.load_teacher_regions()
        await pipeline.refresh_kpi()

    return app, pipeline
