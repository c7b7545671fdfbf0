"""The instants CI moves the clock to for the date-sensitive tests (``pytest -m clock``).

``python -m tests.support.clocks`` prints, one per line, ``<name> <offset> <UTC instant>``: the
offset in seconds from the real clock to the instant, for libfaketime (``FAKETIME=<offset>``).
An offset, not libfaketime's ``@instant``: with ``@`` every process starts its clock at the
instant anew, so a worker started ten minutes into the run would be ten minutes behind the test
that reads its metrics; with an offset every process of the run shares one moved clock. Each
instant is taken from the real date, after every fixed date of the test data:

* ``monday-0030``: the last Monday 00:30 Moscow time: a new week has just begun, nothing in it yet;
* ``tuesday-1700``: the last Tuesday 17:00 Moscow time;
* ``holidays``: Wednesday 12:00 of the next school-holiday week (the generator's calendar).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from stream.tools.generate.calendar import day_kind

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


def faketime_offset(instant: datetime, now: datetime) -> str:
    """libfaketime's relative form: signed whole seconds from ``now`` to ``instant``."""
    return f"{round((instant - now).total_seconds()):+d}"


def main() -> None:
    now = datetime.now(UTC)
    for name, instant in instants(now).items():
        print(name, faketime_offset(instant, now), instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


if __name__ == "__main__":
    main()
