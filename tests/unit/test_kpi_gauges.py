"""The worker's near-real-time KPI gauges describe the week the clock is in, and switch at Monday
00:00 Moscow time: weekly indicators (b, c, d) start again from zero, cumulative ones (registered,
a, active) carry over. Expected values are written out by hand."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stream.core.counting import Counters, UserState, WeekState
from stream.core.week import WeekCalendar, week_number
from stream.worker.kpi_gauges import RegionKpiGauges

pytestmark = pytest.mark.clock

MSK = ZoneInfo("Europe/Moscow")


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=MSK).timestamp() * 1000)  # type: ignore[misc]


#: Monday 2026-11-30 00:00 Moscow time, and the week before it.
MONDAY = datetime(2026, 11, 30, tzinfo=MSK)
THIS_WEEK = week_number(MONDAY.date())
LAST_WEEK = THIS_WEEK - 7


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


def _teacher() -> UserState:
    """Registered on 2026-11-02; in the week before MONDAY: 1 group chat, 12 group messages, 2 calls."""
    week = WeekState(teacher=Counters(activity=15, group_chats_created=1, group_messages=12, chat_messages=12, calls=2))
    return UserState(
        stream_time=_ms(2026, 11, 29, 23, 0),
        weeks={LAST_WEEK: week},
        teacher_since=_ms(2026, 11, 2, 9, 0),
        teacher_totals=Counters(activity=15, group_chats_created=1, group_messages=12, chat_messages=12, calls=2),
    )


def _gauges(clock: Clock) -> RegionKpiGauges:
    gauges = RegionKpiGauges(WeekCalendar("Europe/Moscow"), clock=clock)
    gauges.regions_of = {"t1": ("r1",)}
    gauges.update("t1", _teacher())
    return gauges


def test_gauges_describe_the_week_before_monday_midnight_moscow() -> None:
    clock = Clock(datetime(2026, 11, 29, 23, 59, 59, tzinfo=MSK))
    gauges = _gauges(clock)
    assert gauges.current_week() == LAST_WEEK
    assert gauges.counts() == {"r1": Counter({"registered": 1, "a": 1, "active": 1, "b": 1, "c": 1, "d": 1})}


def test_gauges_switch_to_the_new_week_at_monday_midnight_moscow() -> None:
    clock = Clock(MONDAY)
    gauges = _gauges(clock)
    assert gauges.current_week() == THIS_WEEK
    # nothing yet in the new week: b, c and d are zero; registration, a and active carry over
    assert gauges.counts() == {"r1": Counter({"registered": 1, "a": 1, "active": 1})}
    clock.now -= 1  # the same gauges, a second earlier
    assert gauges.counts()["r1"]["b"] == 1


def test_monday_midnight_is_moscow_time_not_utc() -> None:
    # 2026-11-29 22:30 UTC is Monday 01:30 in Moscow (UTC+3): already the new week
    clock = Clock(datetime(2026, 11, 29, 22, 30, tzinfo=ZoneInfo("UTC")))
    assert _gauges(clock).current_week() == THIS_WEEK


def test_scrape_names_the_week_and_counts_it() -> None:
    clock = Clock(datetime(2026, 12, 1, 17, 0, tzinfo=MSK))  # a Tuesday 17:00
    registry = CollectorRegistry()
    registry.register(_gauges(clock))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert samples[("sferum_kpi_week_start_timestamp_seconds", ())] == MONDAY.timestamp()
    assert samples[("sferum_kpi_teachers", (("indicator", "b"), ("region", "r1")))] == 0
    assert samples[("sferum_kpi_teachers", (("indicator", "active"), ("region", "r1")))] == 1


def test_a_teacher_registered_after_the_week_is_not_counted_in_it() -> None:
    clock = Clock(datetime(2026, 11, 20, 12, 0, tzinfo=MSK))  # a Friday of the week of 2026-11-16
    gauges = RegionKpiGauges(WeekCalendar("Europe/Moscow"), clock=clock)
    gauges.regions_of = {"t1": ("r1",)}
    state = _teacher()
    state.teacher_since = _ms(2026, 11, 23, 0, 0)  # registered at the week's end: not by the week
    gauges.update("t1", state)
    assert gauges.counts() == {}
