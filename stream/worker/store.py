"""The worker's use of ClickHouse: one thread for every call (the embedded engine admits one user
at a time, and its client is synchronous), rows written with the users they change noted, and the
refresh of the stored indicators for those users' units only."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from schemas.rows import PendingRows, week_date
from sinks.clickhouse import ClickHouseSink, first_line
from sinks.kpi import refresh_kpi
from sinks.kpi_changes import ChangesRefreshed, refresh_kpi_changes
from sinks.registry import teacher_regions
from stream.core.refresh_work import RefreshWork
from stream.core.week import WeekCalendar
from stream.worker.metrics import Metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


class WorkerStore:
    def __init__(self, sink: ClickHouseSink, calendar: WeekCalendar, metrics: Metrics | None = None) -> None:
        self.sink = sink
        self._calendar = calendar
        self._metrics = metrics
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        #: What changed since the last refresh of the stored indicators. A worker does not know what
        #: changed before it started, so its first refresh covers every unit and every week.
        self.work = RefreshWork(every_from=0)

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def write_rows(self, rows: PendingRows) -> int:
        """Write rows (``StoreError`` if the store fails); note the users they change for the next refresh."""
        written = await self.call(self.sink.write, rows)
        self.work.note_rows(rows, self._calendar)
        return written

    async def refresh_kpi(self) -> None:
        """Recompute the stored indicators of the units the users noted since the last refresh
        belong to, from the earliest week each changed (cumulative indicators of later weeks depend
        on it). A failure is retried next time, with whatever was noted meanwhile. Every call on
        the store runs in one thread, so a refresh sees every row written before it began: that
        instant is what the boards are current to."""
        began, began_at = time.time(), time.monotonic()
        work, self.work = self.work, RefreshWork()
        if not work:  # nothing written since the last refresh: current as of now
            self._refreshed(None, began, began_at)
            return
        try:
            if work.every_from is not None:
                await self.call(refresh_kpi, self.sink, from_week=week_date(work.every_from))
            else:
                changes = {user: week_date(week) for user, week in work.users.items()}
                done: ChangesRefreshed = await self.call(refresh_kpi_changes, self.sink, changes)
                if done.full_from is not None:
                    log.info("the data reached week %s: every unit computed from it", done.full_from)
        except Exception as exc:  # the store may be down: keep the work, try again next time
            log.warning("refreshing the indicators failed, will retry: %s", first_line(exc))
            work.merge(self.work)
            self.work = work
            self._refreshed("failed", began, began_at)
            return
        self._refreshed("ok", began, began_at)

    def _refreshed(self, outcome: str | None, began: float, began_at: float) -> None:
        """Count a refresh (``outcome`` None: there was nothing to refresh); unless it failed, the
        stored indicators are current as of ``began``."""
        if self._metrics is None:
            return
        if outcome is not None:
            self._metrics.kpi_refreshes.labels(outcome).inc()
        if outcome == "failed":
            return
        if outcome == "ok":
            self._metrics.kpi_refresh_seconds.observe(time.monotonic() - began_at)
        self._metrics.kpi_current_as_of.set(began)

    async def teacher_regions(self) -> Mapping[str, tuple[str, ...]] | None:
        """The registry's teacher -> regions map, or None if the store fails."""
        try:
            return await self.call(teacher_regions, self.sink)
        except Exception as exc:
            log.warning("reading the registry for the KPI gauges failed, will retry: %s", first_line(exc))
            return None

    async def close(self) -> None:
        await self.call(self.sink.close)
        self._executor.shutdown(wait=True)
