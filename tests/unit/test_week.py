"""``stream.core.week``: ISO weeks, Monday 00:00 to Monday 00:00 local time, in Moscow and across DST.

Expected instants are written out as epoch milliseconds (checked with ``date -u -d``), expected
weeks as calendar dates; ``days`` turns a date into days since 1970-01-01, the ``week_start`` unit.
"""

from __future__ import annotations

from datetime import date

import pytest

from schemas.rows import week_date
from stream.core.week import WeekCalendar, week_number


def days(day: date) -> int:
    return (day - date(1970, 1, 1)).days


MOSCOW = WeekCalendar("Europe/Moscow")
BERLIN = WeekCalendar("Europe/Berlin")

# Moscow is UTC+3 all year: Monday 00:00 MSK is Sunday 21:00 UTC.
MON_2024_01_15_MSK_MS = 1_705_266_000_000  # 2024-01-15 00:00:00.000 MSK = 2024-01-14 21:00 UTC
MON_2024_01_22_MSK_MS = 1_705_870_800_000  # 2024-01-22 00:00:00.000 MSK = 2024-01-21 21:00 UTC
MON_2024_01_08_MSK_MS = 1_704_661_200_000  # 2024-01-08 00:00:00.000 MSK = 2024-01-07 21:00 UTC


def test_week_start_is_counted_in_days_since_the_epoch() -> None:
    assert days(date(2024, 1, 15)) == 19_737
    assert MOSCOW.week_of(MON_2024_01_15_MSK_MS) == 19_737


def test_message_at_monday_midnight_moscow_counts_in_new_week() -> None:
    assert MOSCOW.week_of(MON_2024_01_15_MSK_MS) == days(date(2024, 1, 15))


def test_message_one_ms_before_monday_midnight_moscow_counts_in_previous_week() -> None:
    assert MOSCOW.week_of(MON_2024_01_15_MSK_MS - 1) == days(date(2024, 1, 8))


def test_sunday_evening_utc_is_already_monday_in_moscow() -> None:
    sunday_21_30_utc = 1_705_267_800_000  # 2024-01-14 21:30 UTC = Monday 2024-01-15 00:30 MSK
    assert MOSCOW.week_of(sunday_21_30_utc) == days(date(2024, 1, 15))


def test_sunday_before_21_utc_is_still_the_previous_week_in_moscow() -> None:
    sunday_20_59_utc = 1_705_265_940_000  # 2024-01-14 20:59 UTC = Sunday 23:59 MSK
    assert MOSCOW.week_of(sunday_20_59_utc) == days(date(2024, 1, 8))


def test_whole_week_maps_to_its_monday_not_to_an_epoch_aligned_thursday() -> None:
    thursday_noon_msk = 1_705_568_400_000  # 2024-01-18 12:00 MSK
    sunday_23_59_59_999_msk = MON_2024_01_22_MSK_MS - 1
    for ts in (MON_2024_01_15_MSK_MS, thursday_noon_msk, sunday_23_59_59_999_msk):
        assert MOSCOW.week_of(ts) == days(date(2024, 1, 15))
    assert week_date(MOSCOW.week_of(thursday_noon_msk)) == date(2024, 1, 15)


def test_week_end_is_next_monday_midnight_moscow() -> None:
    assert MOSCOW.week_end_ms(days(date(2024, 1, 15))) == MON_2024_01_22_MSK_MS


def test_week_start_ms_is_monday_midnight_moscow() -> None:
    assert MOSCOW.week_start_ms(days(date(2024, 1, 15))) == MON_2024_01_15_MSK_MS
    assert MOSCOW.week_start_ms(days(date(2024, 1, 8))) == MON_2024_01_08_MSK_MS


def test_the_epoch_is_in_the_week_of_monday_1969_12_29() -> None:
    # 1970-01-01 00:00 UTC is a Thursday, 03:00 MSK
    assert MOSCOW.week_of(0) == days(date(1969, 12, 29)) == -3


# Europe/Berlin: CET (UTC+1) in winter, CEST (UTC+2) from the last Sunday of March 02:00 to the
# last Sunday of October 03:00. In 2024: 31 March and 27 October.
MON_2024_03_25_BERLIN_MS = 1_711_321_200_000  # 2024-03-25 00:00 CET  = 2024-03-24 23:00 UTC
MON_2024_04_01_BERLIN_MS = 1_711_922_400_000  # 2024-04-01 00:00 CEST = 2024-03-31 22:00 UTC
MON_2024_10_21_BERLIN_MS = 1_729_461_600_000  # 2024-10-21 00:00 CEST = 2024-10-20 22:00 UTC
MON_2024_10_28_BERLIN_MS = 1_730_070_000_000  # 2024-10-28 00:00 CET  = 2024-10-27 23:00 UTC


def test_week_with_spring_dst_change_in_berlin_is_167_hours() -> None:
    week = days(date(2024, 3, 25))
    assert BERLIN.week_start_ms(week) == MON_2024_03_25_BERLIN_MS
    assert BERLIN.week_end_ms(week) == MON_2024_04_01_BERLIN_MS
    assert MON_2024_04_01_BERLIN_MS - MON_2024_03_25_BERLIN_MS == 167 * 3_600_000


def test_week_with_autumn_dst_change_in_berlin_is_169_hours() -> None:
    week = days(date(2024, 10, 21))
    assert BERLIN.week_start_ms(week) == MON_2024_10_21_BERLIN_MS
    assert BERLIN.week_end_ms(week) == MON_2024_10_28_BERLIN_MS
    assert MON_2024_10_28_BERLIN_MS - MON_2024_10_21_BERLIN_MS == 169 * 3_600_000


@pytest.mark.parametrize(
    ("ts_ms", "week"),
    [
        (1_711_846_799_000, date(2024, 3, 25)),  # Sun 2024-03-31 01:59:59 CET, the second before the change
        (1_711_846_800_000, date(2024, 3, 25)),  # Sun 2024-03-31 03:00:00 CEST, the change
        (MON_2024_04_01_BERLIN_MS - 1, date(2024, 3, 25)),  # Sun 2024-03-31 23:59:59.999 CEST
        (MON_2024_04_01_BERLIN_MS, date(2024, 4, 1)),  # Mon 2024-04-01 00:00 CEST
        (MON_2024_03_25_BERLIN_MS - 1, date(2024, 3, 18)),  # Sun 2024-03-24 23:59:59.999 CET
        (MON_2024_03_25_BERLIN_MS, date(2024, 3, 25)),
    ],
    ids=["before-change", "at-change", "last-ms", "next-monday", "previous-sunday", "monday"],
)
def test_berlin_week_across_spring_dst_change(ts_ms: int, week: date) -> None:
    assert BERLIN.week_of(ts_ms) == days(week)


@pytest.mark.parametrize(
    ("ts_ms", "week"),
    [
        (1_729_992_600_000, date(2024, 10, 21)),  # Sun 2024-10-27 02:30 CET, the repeated hour
        (1_730_068_200_000, date(2024, 10, 21)),  # Sun 2024-10-27 23:30 CET = 22:30 UTC
        (MON_2024_10_28_BERLIN_MS - 1, date(2024, 10, 21)),  # Sun 2024-10-27 23:59:59.999 CET
        (MON_2024_10_28_BERLIN_MS, date(2024, 10, 28)),  # Mon 2024-10-28 00:00 CET = 23:00 UTC
    ],
    ids=["repeated-hour", "sunday-22-30-utc", "last-ms", "next-monday"],
)
def test_berlin_week_across_autumn_dst_change(ts_ms: int, week: date) -> None:
    # With the summer offset (+2) still applied, 22:30 UTC would be Monday 00:30: a wrong week.
    assert BERLIN.week_of(ts_ms) == days(week)


def test_zones_give_different_weeks_for_the_same_instant() -> None:
    sunday_22_30_utc = 1_705_271_400_000  # 2024-01-14 22:30 UTC: Monday 01:30 MSK, Sunday 23:30 CET
    assert MOSCOW.week_of(sunday_22_30_utc) == days(date(2024, 1, 15))
    assert BERLIN.week_of(sunday_22_30_utc) == days(date(2024, 1, 8))


def test_cached_answers_do_not_leak_between_calendars_or_calls() -> None:
    calendar = WeekCalendar("Europe/Moscow")
    for _ in range(2):
        assert calendar.week_of(MON_2024_01_15_MSK_MS - 1) == days(date(2024, 1, 8))
        assert calendar.week_of(MON_2024_01_15_MSK_MS) == days(date(2024, 1, 15))
        assert calendar.week_end_ms(days(date(2024, 1, 8))) == MON_2024_01_15_MSK_MS


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (date(2024, 1, 15), date(2024, 1, 15)),
        (date(2024, 1, 21), date(2024, 1, 15)),
        (date(2024, 1, 1), date(2024, 1, 1)),
        (date(2023, 1, 1), date(2022, 12, 26)),  # a Sunday: ISO week 52 of 2022
        (date(2024, 2, 29), date(2024, 2, 26)),
    ],
)
def test_week_number_of_a_date_is_its_monday(day: date, monday: date) -> None:
    assert week_number(day) == days(monday)
    assert week_date(week_number(day)) == monday
