"""The instants CI moves the clock to for the date-sensitive tests (``pytest -m clock``).

``python -m tests.support.clocks`` prints, one per line, ``<name> <UTC instant>`` for libfaketime
(``FAKETIME=@YYYY-MM-DD HH:MM:SS`` with ``TZ=UTC``), each taken from the real date so that it is
after every fixed date of the test data:

* ``monday-0030``: the last Monday 00:30 Moscow time: a new week has just begun, nothing in it yet;
* ``tuesday-1700``: the last Tuesday 17:00 Moscow time;
* ``holidays``: Wednesday 12:00 of the next school-holiday week (the generator's calendar).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from stream.generate.calendar import day_kind

MSK = ZoneInfo("Europe/Moscow")


def _last(weekday: int, at: time, now: datetime) -> datetime:
    day = now.astimezone(MSK).date()
    while True:
        instant = datetime.combine(day, at, MSK)
        if day.weekday() == weekday and instant <= now:
            return instant
        day -= timedelta(days=1)


def _next_holiday_wednesday(now: datetime) -> datetime:
    monday = now.astimezone(MSK).date() - timedelta(days=now.astimezone(MSK).weekday())
    for weeks in range(1, 60):
        start = monday + timedelta(weeks=weeks)
        if all(day_kind(start + timedelta(days=d)) in ("vacation", "holiday") for d in range(5)):
            return datetime.combine(start + timedelta(days=2), time(12, 0), MSK)
    raise RuntimeError("no holiday week within a year")  # the calendar has four a year


def instants(now: datetime) -> dict[str, datetime]:
    return {
        "monday-0030": _last(0, time(0, 30), now),
        "tuesday-1700": _last(1, time(17, 0), now),
        "holidays": _next_holiday_wednesday(now),
    }


def faketime_spec(instant: datetime) -> str:
    return "@" + instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def main() -> None:
    for name, instant in instants(datetime.now(UTC)).items():
        print(name, faketime_spec(instant))


if __name__ == "__main__":
    main()
