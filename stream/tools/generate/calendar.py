"""The generated period and its school calendar: weeks, days, and what kind of day each is.

Weeks are ISO weeks, Monday 00:00 to Monday 00:00 Europe/Moscow, like the indicators'. The school
calendar is the usual Russian one, approximately: autumn holidays from the last Monday of October
to 4 November, winter 29 December – 11 January, spring 23–31 March, summer June to August, and
the public holidays. Regions shift their holidays by a few days; the generator does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from stream.core.week import monday_of

MSK: Final = ZoneInfo("Europe/Moscow")
DAY_MS: Final = 86_400_000

DayKind = Literal["school", "weekend", "vacation", "holiday"]

PUBLIC_HOLIDAYS: Final = frozenset({(1, d) for d in range(1, 9)} | {(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)})


def day_kind(day: date) -> DayKind:
    if (day.month, day.day) in PUBLIC_HOLIDAYS:
        return "holiday"
    if day.weekday() >= 5:
        return "weekend"
    if _vacation(day):
        return "vacation"
    return "school"


def _vacation(day: date) -> bool:
    m, d = day.month, day.day
    if m in (6, 7, 8) or (m == 12 and d >= 29) or (m == 1 and d <= 11) or (m == 3 and 23 <= d <= 31):
        return True
    if m in (10, 11):  # autumn: last Monday of October to 4 November
        last_monday = monday_of(date(day.year, 10, 31))
        return last_monday <= day <= date(day.year, 11, 4)
    return False


def last_full_week(today: date) -> date:
    """Monday of the last week that ended before ``today``."""
    return monday_of(today) - timedelta(days=7)


def today_in_moscow() -> date:
    return datetime.now(MSK).date()


def generated_period(weeks: int, last_week: date | None = None, today: date | None = None) -> Period:
    """``weeks`` whole weeks ending with the week of ``last_week`` (any day of it), by default the
    last week that ended before ``today`` (default: the clock, in Moscow). Raises ValueError when
    that week has not ended by ``today``."""
    today = today_in_moscow() if today is None else today
    last = last_full_week(today) if last_week is None else monday_of(last_week)
    if (today - last).days < 7:
        raise ValueError(f"that week has not ended yet (today is {today} in Moscow)")
    return Period(last, weeks)


@dataclass(frozen=True)
class Period:
    """``weeks`` whole ISO weeks ending with the week of ``last_monday``."""

    last_monday: date
    weeks: int

    @property
    def first_monday(self) -> date:
        return self.last_monday - timedelta(days=7 * (self.weeks - 1))

    @property
    def n_days(self) -> int:
        return 7 * self.weeks

    def day(self, index: int) -> date:
        return self.first_monday + timedelta(days=index)

    def day_start_ms(self, index: int) -> int:
        """Midnight (Moscow) that starts day ``index``, in ms since the epoch."""
        return int(datetime.combine(self.day(index), time(0), MSK).timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return self.day_start_ms(self.n_days)

    def school_year_start(self) -> date:
        """1 September of the school year the period ends in."""
        last = self.day(self.n_days - 1)
        return date(last.year if last.month >= 9 else last.year - 1, 9, 1)
