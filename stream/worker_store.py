"""The worker's use of ClickHouse: one thread for every call (the embedded engine admits one user
at a time, and its client is synchronous), rows written with the users they change noted, and the
refresh of the stored indicators for those users' units only."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sinks.clickhouse import ClickHouseSink, first_line
from sinks.kpi import refresh_kpi
from sinks.kpi_changes import ChangesRefreshed, refresh_kpi_changes
from sinks.registry import teacher_regions
from stream.batch import PendingRows
from stream.week import WeekCalendar, week_date

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Beyond this many changed users a refresh computes every unit from their earliest week instead:
#: the incremental refresh reads every teacher of every school touched, so a catch-up that touched
#: most schools costs it more than the full one, and the noted users are kept in memory meanwhile.
MAX_CHANGED_USERS = 200_000


class RefreshWork:
    """What the next refresh of the stored indicators must cover: the changed users, by role, each
    with the earliest week of it that changed (``week_start``, days since the epoch); or every unit
    from a week (``every_from``), which covers any user changed from that week on."""

    __slots__ = ("every_from", "users")

    def __init__(self, *, every_from: int | None = None) -> None:
        self.every_from = every_from
        self.users: dict[tuple[str, str], int] = {}

    def __bool__(self) -> bool:
        return self.every_from is not None or bool(self.users)

    def note(self, role: str, user_id: str, week: int) -> None:
        if self.every_from is not None:
            self.every_from = min(self.every_from, week)
            return
        key = (role, user_id)
        known = self.users.get(key)
        if known is None or week < known:
            self.users[key] = week
        if len(self.users) > MAX_CHANGED_USERS:
            self.every_from, self.users = min(self.users.values()), {}

    def note_rows(self, rows: PendingRows, calendar: WeekCalendar) -> None:
        """The users a checkpoint's rows change: the teacher or staff user of each ``teacher_week``
        or ``staff_week`` row from its week, the registered user (any role) from the registration's
        week. Roles that belong to no unit (parents) and users missing from the registry are noted
        too: the refresh finds they touch nothing, and still sees a week their rows add."""
        for user_id, week in rows.teacher_weeks:
            self.note("teacher", user_id, week)
        for user_id, week in rows.staff_weeks:
            self.note("staff", user_id, week)
        for registration in rows.registrations.values():
            self.note(registration.role, registration.user_id, calendar.week_of(registration.ts))

    def merge(self, other: RefreshWork) -> None:
        """Add what ``other`` must cover."""
        if other.every_from is not None:
            self.every_from = other.every_from if self.every_from is None else min(self.every_from, other.every_from)
            if self.users:
                self.every_from = min(self.every_from, *self.users.values())
                self.users = {}
        for (role, user_id), week in other.users.items():
            self.note(role, user_id, week)


class WorkerStore:
    def __init__(self, sink: ClickHouseSink, calendar: WeekCalendar) -> None:
        self.sink = sink
        self._calendar = calendar
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        #: What changed since the last refresh of the stored indicators. A worker does not know what
        #: changed before it started, so its first refresh covers every unit and every week.
        self.work = RefreshWork(every_from=0)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
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
        on it). A failure is retried next time, with whatever was noted meanwhile."""
        work, self.work = self.work, RefreshWork()
        if not work:
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
