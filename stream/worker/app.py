"""The worker's Faust app, built by a factory from the settings: nothing is registered at import.

Faust hosts the worker: its lifecycle and signals, the web server (``/metrics``), the timers.
The input path is the worker's own (``stream.kafka``): its consumer, the per-partition state and
the commit protocol. Faust's consumer, producer and tables are not started: their delivery and
recovery could not give exact counts at rebalances and crashes, nor their per-message delivery the
throughput (docs/faust-workarounds.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterable

import faust
from faust.app.base import BootStrategy
from faust.types import ServiceT
from faust.web import Request, Response, View
from mode import Service
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from sinks.clickhouse import ClickHouseSink
from stream.core.week import WeekCalendar
from stream.kafka.live import LiveKafka
from stream.kafka.runner import Runner
from stream.settings import Settings
from stream.worker.kpi_gauges import RegionKpiGauges
from stream.worker.metrics import Metrics
from stream.worker.store import WorkerStore

log = logging.getLogger(__name__)
#: How long a stopping worker spends on its last refresh of the stored indicators.
STOP_REFRESH_S = 30.0


class HostOnly(BootStrategy):
    """Faust's services but Kafka's and the tables': the web server, sensors, timers, services."""

    enable_kafka_consumer = False
    enable_kafka_producer = False

    def tables(self) -> Iterable[ServiceT]:
        return []


class SferumApp(faust.App):
    BootStrategy = HostOnly


async def stop_runner(runner: Runner, refresh_kpi: Callable[[], Awaitable[None]]) -> None:
    """The worker's stop: a last checkpoint, then a last refresh of the stored indicators (as of
    that checkpoint; the next worker would do it too), bounded by ``STOP_REFRESH_S``, and leaving
    the group. A dynamic member leaves before the refresh, so that its partitions move at once. A
    static member leaves after it: it keeps its place in the group by heartbeats, and the group
    waits for it the session timeout from its last heartbeat on, which the refresh (seconds on a
    large store) must not use up before the restart has even begun."""
    await runner.stop()
    if not runner.static_member:
        await runner.leave()
    try:
        await asyncio.wait_for(refresh_kpi(), STOP_REFRESH_S)
    except TimeoutError:
        log.warning("the last refresh of the indicators did not finish in %.0f s", STOP_REFRESH_S)
    finally:
        if runner.static_member:
            await runner.leave()


def build_app(
    settings: Settings, *, registry: CollectorRegistry | None = None, clock: Callable[[], float] = time.time
) -> tuple[faust.App, Runner, WorkerStore]:
    app = SferumApp(
        settings.app_id,
        broker=settings.broker,
        datadir=str(settings.data_dir / "faust"),
        autodiscover=False,
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        web_in_thread=False,
    )
    registry = registry if registry is not None else CollectorRegistry()
    calendar = WeekCalendar(settings.timezone)
    metrics = Metrics(registry, topics=settings.consumed_topics, clock=clock)
    gauges = RegionKpiGauges(calendar, clock=clock)
    registry.register(gauges)
    store = WorkerStore(ClickHouseSink(**settings.sink_options), calendar, metrics)
    runner = Runner(
        settings, kafka=LiveKafka(settings), write_rows=store.write_rows, metrics=metrics, gauges=gauges, clock=clock
    )
    metrics.clock.lag_source = runner.consumer_lag

    @app.page("/metrics")
    async def metrics_page(web: View, request: Request) -> Response:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.service
    class InputLoop(Service):
        """Runs the runner's loop; on stop, a last checkpoint, then the group is left."""

        async def on_start(self) -> None:
            self.add_future(self._run())

        async def _run(self) -> None:
            try:
                await runner.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or a fatal Kafka error: stop; a restart re-reads from the commits
                log.exception("the input loop failed; the worker stops")
                runner.failed = exc
                os.kill(os.getpid(), signal.SIGTERM)

        async def on_stop(self) -> None:
            await stop_runner(runner, store.refresh_kpi)
            await store.close()

    @app.timer(interval=settings.kpi_refresh_interval_s)  # type: ignore[untyped-decorator]  # Faust's App.timer returns a bare Callable
    async def refresh_indicators() -> None:
        regions = await store.teacher_regions()
        if regions is not None:
            gauges.regions_of = regions
        await store.refresh_kpi()

    return app, runner, store
