"""Near-real-time KPI gauges per region for the current week, from the worker's own state.

Each worker exports, for the users of the partitions it owns, how many registry teachers of
each region are registered and meet a, b, c, d and active in the current week (Monday 00:00 in
the configured zone, by the wall clock). Every user is owned by exactly one worker, so
``sum by (region)`` across workers gives the region's figures, and a share is one division::

    sum by (region) (sferum_kpi_teachers{indicator="b"})
      / sum by (region) (sferum_kpi_teachers{indicator="registered"})

A teacher of schools in two regions counts in both, as in ``kpi_unit_week``. The thresholds are
``sinks.indicators``'s, as in the SQL.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import msgspec
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sinks.indicators import (
    A_GROUP_CHATS,
    ACTIVE_GROUP_CHATS,
    ACTIVE_GROUP_MESSAGES,
    B_GROUP_MESSAGES,
    C_CHAT_MESSAGES,
    D_CALLS,
)
from stream.core.counting import UserState
from stream.core.week import WeekCalendar

INDICATORS = ("registered", "a", "b", "c", "d", "active")


class TeacherSummary(msgspec.Struct, frozen=True, gc=False):
    """What the gauges need of one user: kept small, since a worker holds one per teacher."""

    teacher_since: int
    chats_total: int
    group_messages_total: int
    weeks: dict[int, tuple[int, int, int]]  # week -> (group_messages, chat_messages, calls)


def summarize(state: UserState) -> TeacherSummary | None:
    totals = state.teacher_totals
    if state.teacher_since < 0 and totals is None:
        return None
    weeks = {
        w: (t.group_messages, t.chat_messages, t.calls)
        for w, held in state.weeks.items()
        if (t := held.teacher) is not None and t.activity
    }
    return TeacherSummary(
        state.teacher_since,
        totals.group_chats_created if totals else 0,
        totals.group_messages if totals else 0,
        weeks,
    )


class RegionKpiGauges(Collector):
    def __init__(self, calendar: WeekCalendar, clock: Callable[[], float] = time.time) -> None:
        self._calendar = calendar
        self._clock = clock
        self.regions_of: Mapping[str, tuple[str, ...]] = {}
        #: Per partition this worker owns, its teachers.
        self.partitions: dict[int, dict[str, TeacherSummary]] = {}

    @property
    def users(self) -> dict[str, TeacherSummary]:
        return {user: s for users in self.partitions.values() for user, s in users.items()}

    def update(self, user_id: str, state: UserState, partition: int = 0) -> None:
        users = self.partitions.setdefault(partition, {})
        summary = summarize(state)
        if summary is None:
            users.pop(user_id, None)
        else:
            users[user_id] = summary

    def load(self, partition: int, states: Iterable[tuple[str, UserState]]) -> None:
        """A partition now owned, with its users' state (after its restore)."""
        users = {}
        for user_id, state in states:
            summary = summarize(state)
            if summary is not None:
                users[user_id] = summary
        self.partitions[partition] = users

    def forget(self, partition: int) -> None:
        """A partition no longer owned."""
        self.partitions.pop(partition, None)

    def current_week(self) -> int:
        """The week the gauges describe: the one the clock is in (days since the epoch, a Monday)."""
        return self._calendar.week_of(int(self._clock() * 1000))

    def counts(self, week: int | None = None) -> dict[str, Counter[str]]:
        week = self.current_week() if week is None else week
        end_ms = self._calendar.week_end_ms(week)
        by_region: dict[str, Counter[str]] = {}
        for user_id, s in (item for users in list(self.partitions.values()) for item in users.items()):
            regions = self.regions_of.get(user_id)
            if not regions or s.teacher_since < 0 or s.teacher_since >= end_ms:
                continue
            group, chat, calls = s.weeks.get(week, (0, 0, 0))
            met = ["registered"]
            if s.chats_total >= A_GROUP_CHATS:
                met.append("a")
            if s.chats_total >= ACTIVE_GROUP_CHATS and s.group_messages_total >= ACTIVE_GROUP_MESSAGES:
                met.append("active")
            if group >= B_GROUP_MESSAGES:
                met.append("b")
            if chat >= C_CHAT_MESSAGES:
                met.append("c")
            if calls >= D_CALLS:
                met.append("d")
            for region in regions:
                by_region.setdefault(region, Counter()).update(met)
        return by_region

    def collect(self) -> Iterable[Metric]:
        week = self.current_week()  # read once: a scrape at Monday 00:00 describes one week
        week_start = GaugeMetricFamily(
            "sferum_kpi_week_start_timestamp_seconds",
            "Start (Monday 00:00 in the configured zone) of the week sferum_kpi_teachers describes, as Unix time.",
        )
        week_start.add_metric([], self._calendar.week_start_ms(week) / 1000)
        family = GaugeMetricFamily(
            "sferum_kpi_teachers",
            "Registry teachers of the region, of this worker's partitions, that are registered and meet "
            "each indicator in the current week.",
            labels=["region", "indicator"],
        )
        for region, counts in sorted(self.counts(week).items()):
            for indicator in INDICATORS:
                family.add_metric([region, indicator], counts[indicator])
        return [week_start, family]
