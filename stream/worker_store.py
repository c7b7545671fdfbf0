"""The worker's use of ClickHouse: one thread for every call (the embedded engine admits one user
at a time, and its client is synchronous), rows written with their weeks noted, and the refresh of
the stored indicators from the earliest week changed since the last one."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sinks.clickhouse import ClickHouseSink, first_line
from sinks.kpi import refresh_kpi
from sinks.registry import teacher_regions
from stream.batch import PendingRows
from stream.metrics import Metrics
from stream.week import WeekCalendar, week_date

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkerStore:
    def __init__(self, sink: ClickHouseSink, calendar: WeekCalendar, metrics: Metrics | None = None) -> None:
        self.sink = sink
        self._calendar = calendar
        self._metrics = metrics
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        #: The earliest week changed since the last refresh of the stored indicators. A worker does
        #: not know what changed before it started, so its first refresh covers every week.
        self.refresh_from: int | None = 0

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def write_rows(self, rows: PendingRows) -> int:
        """Write rows (``StoreError`` if the store fails); note their weeks for the next refresh."""
        written = await self.call(self.sink.write, rows)
        weeks = rows.weeks(self._calendar)
        if weeks:
            earliest = min(weeks)
            self.refresh_from = earliest if self.refresh_from is None else min(self.refresh_from, earliest)
        return written

    async def refresh_kpi(self) -> None:
        """Recompute the stored indicators from the earliest week written since the last refresh
        (cumulative indicators of later weeks depend on it). A failure is retried next time.
        Every call on the store runs in one thread, so a refresh sees every row written before
        it began: that instant is what the boards are current to."""
        began, began_at = time.time(), time.monotonic()
        start, self.refresh_from = self.refresh_from, None
        if start is None:  # nothing written since the last refresh: current as of now
            self._current_as_of(began)
            return
        try:
            await self.call(refresh_kpi, self.sink, from_week=week_date(start))
        except Exception as exc:  # the store may be down: keep the week, try again next time
            log.warning("refreshing the indicators failed, will retry: %s", first_line(exc))
            self.refresh_from = start if self.refresh_from is None else min(start, self.refresh_from)
            if self._metrics is not None:
                self._metrics.kpi_refreshes.labels("failed").inc()
            return
        if self._metrics is not None:
            self._metrics.kpi_refreshes.labels("ok").inc()
            self._metrics.kpi_refresh_seconds.observe(time.monotonic() - began_at)
        self._current_as_of(began)

    def _current_as_of(self, instant: float) -> None:
        if self._metrics is not None:
            self._metrics.kpi_current_as_of.set(instant)

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
