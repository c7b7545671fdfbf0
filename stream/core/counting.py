"""The pure counting core, shared by the worker, the replay command and the tests.

State is kept per user (the Kafka key): the user's *stream time* (the newest event time accepted
for the user) and, per week still open for late events, the ids of the events applied and the
counters of that week. One user's events are applied in their stream order, and each decision
reads only the event and the user's state, so a worker over any number of partitions and
``replay`` over a file decide alike:

* an event is **late** when its week ended at least ``allowed_lateness`` before the user's
  stream time (or when its week was dropped already, under a smaller lateness); it changes
  nothing. A registration is never late: it keeps no week open, and "registered by week W" is
  defined by its ``ts``, so one that arrives weeks late is still the truth about every week
  since (its row in ``registrations`` is keyed by role, user and id, so a second delivery
  replaces it); only in an open week is its id kept, as any event's;
* otherwise it is a **duplicate** when the user has an event with the same ``event_id`` in a week
  that is still open (ended less than ``allowed_lateness`` before the stream time): the same id
  counts once, whatever ``ts`` the second delivery carries; it changes nothing;
* otherwise it is **counted**: its week's counters grow, its id is kept, and its ``ts`` advances
  the stream time if it is newer.

A week is dropped once it is closed (nothing can reach it any more). Whether a closed week is
still held or already dropped never changes a decision.

Ids are kept as 64-bit hashes (xxh3): 9 bytes each in the encoded state instead of the id's
length. Two different ids of one user in one open week collide with probability about
n^2 / 2^65 for n ids: 1.1e-9 for a week of 200,000 events, 1e-15 for an ordinary week of 200. A
collision would make the second event count as a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import msgspec
import xxhash

from schemas.decode import Event
from schemas.rows import TeacherWeekRow
from stream.core.week import WeekCalendar

COUNTED: Final = "counted"
DUPLICATE: Final = "duplicate"
IGNORED: Final = "ignored"  # valid, but no indicator uses it: activity of students and parents
LATE: Final = "late"
#: Roles whose activity is counted: teachers (teacher_week) and the staff of municipalities'
#: education authorities (staff_week).
COUNTED_ROLES: Final = frozenset({"teacher", "staff"})


def id_hash(event_id: str) -> int:
    """The 64-bit hash an event id is kept as."""
    return xxhash.xxh3_64_intdigest(event_id.encode())


class Counters(msgspec.Struct, array_like=True, gc=False):
    """Activity counters of one user in one week, for one role."""

    #: Distinct activity events applied; it only grows, so it versions the row.
    activity: int = 0
    group_chats_created: int = 0
    group_messages: int = 0
    chat_messages: int = 0
    calls: int = 0


class WeekState(msgspec.Struct, array_like=True, gc=False):
    """One user's events in one week: the hashes of the ids applied, and the counters of the
    activity sent with role ``teacher`` and with role ``staff``."""

    ids: set[int] = msgspec.field(default_factory=set)
    teacher: Counters | None = None
    staff: Counters | None = None
    #: Storage only (``stream.state.codec``): in the stored record, the ids of a week of very
    #: many events are kept apart, in this many chunk records; in memory ``ids`` holds them all.
    spilled: int = 0


class UserState(msgspec.Struct, array_like=True, gc=False):
    stream_time: int = -1
    weeks: dict[int, WeekState] = msgspec.field(default_factory=dict)
    #: Kept for good, unlike the weeks: the earliest teacher registration (ms, -1 if none) and
    #: the teacher counters of all time, for the cumulative indicators (a, active) of the
    #: worker's near-real-time gauges.
    teacher_since: int = -1
    teacher_totals: Counters | None = None
    #: The end (ms) of the newest week dropped from ``weeks``: an event of that week or an earlier
    #: one is late whatever the allowed lateness is now. (With a fixed lateness this changes no
    #: decision; after the lateness is raised, it keeps a dropped week from being counted again
    #: from zero, in a row that would lose to the row already written.)
    closed_until: int = -1


@dataclass(frozen=True, slots=True)
class Policy:
    calendar: WeekCalendar
    allowed_lateness_ms: int


@dataclass(slots=True)
class UserBatchResult:
    """What applying a batch of one user's events did."""

    outcomes: list[str] = field(default_factory=list)  # one per event, in order
    #: Weeks whose teacher_week / staff_week row changed.
    touched_weeks: set[int] = field(default_factory=set)
    touched_staff_weeks: set[int] = field(default_factory=set)
    registrations: list[Event] = field(default_factory=list)  # counted registrations

    @property
    def changed(self) -> bool:
        return COUNTED in self.outcomes


def apply_user_events(state: UserState, events: Iterable[Event], policy: Policy) -> UserBatchResult:
    """Apply one user's events in order to ``state`` (mutated). The weeks they close stay held
    until ``evict_closed_weeks``, so that the caller can still read the rows they touched."""
    result = UserBatchResult()
    calendar = policy.calendar
    lateness = policy.allowed_lateness_ms
    weeks = state.weeks
    for event in events:
        if event.type != "registered" and event.role not in COUNTED_ROLES:
            result.outcomes.append(IGNORED)
            continue
        week = calendar.week_of(event.ts)
        horizon = state.stream_time - lateness
        if calendar.week_end_ms(week) <= max(horizon, state.closed_until):
            if event.type == "registered":
                _register(state, event, result)  # never late; no week state to keep
            else:
                result.outcomes.append(LATE)
            continue
        hashed = id_hash(event.event_id)
        week_state = weeks.get(week)
        if (week_state is not None and hashed in week_state.ids) or _seen_elsewhere(
            state, week, hashed, horizon, calendar
        ):
            result.outcomes.append(DUPLICATE)
            continue
        if event.ts > state.stream_time:
            state.stream_time = event.ts
        if week_state is None:
            week_state = weeks[week] = WeekState()
        week_state.ids.add(hashed)
        if event.type == "registered":
            _register(state, event, result)
            continue
        result.outcomes.append(COUNTED)
        if event.role == "teacher":
            if week_state.teacher is None:
                week_state.teacher = Counters()
            _count(week_state.teacher, event)
            if state.teacher_totals is None:
                state.teacher_totals = Counters()
            _count(state.teacher_totals, event)
            result.touched_weeks.add(week)
        else:
            if week_state.staff is None:
                week_state.staff = Counters()
            _count(week_state.staff, event)
            result.touched_staff_weeks.add(week)
    return result


def _register(state: UserState, event: Event, result: UserBatchResult) -> None:
    result.outcomes.append(COUNTED)
    if event.role == "teacher" and (state.teacher_since < 0 or event.ts < state.teacher_since):
        state.teacher_since = event.ts
    result.registrations.append(event)


def _seen_elsewhere(state: UserState, week: int, hashed: int, horizon: int, calendar: WeekCalendar) -> bool:
    """Whether another open week of the user holds the id: a second delivery with another ``ts``."""
    if len(state.weeks) < 2 and week in state.weeks:
        return False
    return any(
        other != week and hashed in held.ids and calendar.week_end_ms(other) > horizon
        for other, held in state.weeks.items()
    )


def _count(counters: Counters, event: Event) -> None:
    counters.activity += 1
    kind = event.chat_kind
    if event.type == "message_sent":
        if kind == "group":
            counters.group_messages += 1
            counters.chat_messages += 1
        elif kind == "personal":
            counters.chat_messages += 1
    elif event.type == "chat_created":
        if kind == "group":
            counters.group_chats_created += 1
    elif event.type == "call":
        counters.calls += 1


def evict_closed_weeks(state: UserState, policy: Policy) -> list[int]:
    """Drop the weeks no event can reach any more; return them."""
    horizon = state.stream_time - policy.allowed_lateness_ms
    calendar = policy.calendar
    closed = [week for week in state.weeks if calendar.week_end_ms(week) <= horizon]
    for week in closed:
        del state.weeks[week]
        state.closed_until = max(state.closed_until, calendar.week_end_ms(week))
    return closed


def teacher_week_row(user_id: str, week: int, week_state: WeekState) -> TeacherWeekRow | None:
    """The teacher_week row of a week, or None when the user had no teacher activity in it."""
    return _row(user_id, week, week_state.teacher)


def staff_week_row(user_id: str, week: int, week_state: WeekState) -> TeacherWeekRow | None:
    """The staff_week row of a week, or None when the user had no staff activity in it."""
    return _row(user_id, week, week_state.staff)


def _row(user_id: str, week: int, counters: Counters | None) -> TeacherWeekRow | None:
    if counters is None or counters.activity == 0:
        return None
    return TeacherWeekRow(
        week,
        user_id,
        counters.group_chats_created,
        counters.group_messages,
        counters.chat_messages,
        counters.calls,
        counters.activity,
    )
