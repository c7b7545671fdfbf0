"""The reporting week: ISO week, Monday 00:00 to the next Monday 00:00 in a configured zone.

Not Faust's tumbling window: those align to the Unix epoch, so a 7-day window starts on a
Thursday. Weeks are identified by ``week_start`` as days since 1970-01-01 (ClickHouse ``Date``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas.rows import EPOCH

#: Every zone offset in the tz database is a multiple of 15 minutes, so all instants in one
#: 15-minute bucket of UTC fall in the same local week; the bucket is the cache key.
_BUCKET_MS = 15 * 60 * 1000


class WeekCalendar:
    """Maps event times (ms since the epoch, UTC) to weeks in one time zone. Caches per bucket."""

    __slots__ = ("zone", "_by_bucket", "_end_by_week")

    def __init__(self, zone: str = "Europe/Moscow") -> None:
        self.zone = ZoneInfo(zone)
        self._by_bucket: dict[int, int] = {}
        self._end_by_week: dict[int, int] = {}

    def week_of(self, ts_ms: int) -> int:
        """``week_start`` (days since the epoch) of the week that holds ``ts_ms``."""
        bucket = ts_ms // _BUCKET_MS
        week = self._by_bucket.get(bucket)
        if week is None:
            week = week_number(datetime.fromtimestamp(ts_ms / 1000, self.zone).date())
            if len(self._by_bucket) > 500_000:  # about 14 years of buckets; a safety valve only
                self._by_bucket.clear()
            self._by_bucket[bucket] = week
        return week

    def week_end_ms(self, week_start: int) -> int:
        """The instant (ms since the epoch) at which the week ends: the next Monday 00:00 local."""
        end = self._end_by_week.get(week_start)
        if end is None:
            monday = EPOCH + timedelta(days=week_start + 7)
            end = int(datetime.combine(monday, time(0, 0), self.zone).timestamp() * 1000)
            self._end_by_week[week_start] = end
        return end

    def week_start_ms(self, week_start: int) -> int:
        return self.week_end_ms(week_start - 7)


def monday_of(day: date) -> date:
    """The Monday of the ISO week a calendar date falls in (weeks are labelled by their Monday)."""
    return day - timedelta(days=day.weekday())


def week_number(day: date) -> int:
    """``week_start`` of the week holding a calendar date (the date is taken in the week's zone)."""
    return (monday_of(day) - EPOCH).days
