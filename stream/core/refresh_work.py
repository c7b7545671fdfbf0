"""What the next refresh of the stored indicators must cover: the users each checkpoint changed,
by role, each from the earliest week of it that changed, or every unit from a week."""

from __future__ import annotations

from schemas.rows import PendingRows
from stream.core.week import WeekCalendar

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
