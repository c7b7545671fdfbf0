"""The rows the store is given: the contract between the core (``stream``) and ClickHouse
(``sinks``). A ``TeacherWeekRow`` per user and week, a ``RegistrationRow`` per registration, and
``PendingRows``, those changed since they were last written; weeks are ``week_start``, days since
``EPOCH`` (ClickHouse ``Date``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

import msgspec

EPOCH = date(1970, 1, 1)


def week_date(week_start: int) -> date:
    return EPOCH + timedelta(days=week_start)


class TeacherWeekRow(msgspec.Struct, frozen=True, gc=False):
    """One row of ``sferum.teacher_week``, or of ``sferum.staff_week`` (same shape; the user id is
    in ``teacher_id``)."""

    week_start: int  # days since the epoch
    teacher_id: str
    group_chats_created: int
    group_messages: int
    chat_messages: int
    calls: int
    version: int


class RegistrationRow(msgspec.Struct, frozen=True, gc=False):
    """One row of ``sferum.registrations``."""

    user_id: str
    role: str
    registered_by: str
    ts: int
    event_id: str


class Weeks(Protocol):
    """What ``PendingRows.weeks`` needs of a calendar (``stream.core.week.WeekCalendar``)."""

    def week_of(self, ts_ms: int) -> int: ...


#: A registration is one row per (role, user, event id), as ``sferum.registrations`` is ordered.
RegistrationKey = tuple[str, str, str]


@dataclass(slots=True)
class PendingRows:
    """Rows changed since they were last taken, newest version per key."""

    teacher_weeks: dict[tuple[str, int], TeacherWeekRow] = field(default_factory=dict)
    staff_weeks: dict[tuple[str, int], TeacherWeekRow] = field(default_factory=dict)
    registrations: dict[RegistrationKey, RegistrationRow] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.teacher_weeks) + len(self.staff_weeks) + len(self.registrations)

    def weeks(self, calendar: Weeks) -> list[int]:
        """Every week a row of these changes (for the refresh of the stored indicators)."""
        weeks = [week for _, week in self.teacher_weeks] + [week for _, week in self.staff_weeks]
        return weeks + [calendar.week_of(r.ts) for r in self.registrations.values()]
