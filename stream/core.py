"""The pure counting core, shared by the Faust worker, the replay command and the tests.

State is kept per user (the Kafka key): the user's *stream time* (the newest accepted event
time) and, per week still open for late events, the ids of the events already applied and the
four teacher counters. One user's events are applied in their stream order.

Exactness comes from idempotence, not from transactions:

* an ``event_id`` already in its week's id set is a duplicate and changes nothing, so a
  redelivered message and a message re-read after a crash or a rebalance count once;
* a week is late, and rejected, when it ended at least ``allowed_lateness`` before the user's
  stream time. The decision reads only the event and the user's stream time, never whether the
  week's state happens to be in memory, so it is the same live and in a replay. (An event
  already applied that is re-read past the lateness, after a crash, is late too; if its week is
  still held, its row is written again, since the crash may have lost it.)
* a week's state is dropped only when it is past the lateness (so nothing can reach it again)
  and it is not pinned (its row is flushed).

Stream time is per user because Kafka orders one key's messages, and nothing else: with it, a
worker over any number of partitions and ``replay`` over the file make the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

import msgspec

from schemas.decode import Event
from stream.week import WeekCalendar

COUNTED: Final = "counted"
DUPLICATE: Final = "duplicate"
IGNORED: Final = "ignored"  # valid, but no indicator uses it: activity of students and parents
#: Roles whose activity is counted: teachers (teacher_week) and staff, among them the accounts of
#: municipalities and schools themselves (staff_week; a municipality is active by its own account).
COUNTED_ROLES: Final = frozenset({"teacher", "staff"})
LATE: Final = "late"


class Counters(msgspec.Struct, gc=False):
    """Activity counters of one user in one week, for one role."""

    #: Distinct activity events applied; it only grows, so it versions the row.
    activity: int = 0
    group_chats_created: int = 0
    group_messages: int = 0
    chat_messages: int = 0
    calls: int = 0


class WeekState(Counters, gc=False):
    """One user's events in one week: the ids applied, the teacher counters (inherited) and, for
    activity sent with role ``staff``, separate counters."""

    ids: set[str] = msgspec.field(default_factory=set)
    staff: Counters | None = None


class UserState(msgspec.Struct, gc=False):
    stream_time: int = -1
    weeks: dict[int, WeekState] = msgspec.field(default_factory=dict)
    #: Kept for good, unlike the weeks: the earliest teacher registration (ms, -1 if none) and
    #: the teacher counters of all time, for the cumulative indicators (a, active) of the
    #: worker's near-real-time gauges.
    teacher_since: int = -1
    teacher_totals: Counters | None = None


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


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(UserState)


def encode_state(state: UserState) -> bytes:
    return _encoder.encode(state)


def decode_state(raw: bytes | None) -> UserState:
    return UserState() if raw is None else _decoder.decode(raw)


@dataclass(frozen=True, slots=True)
class Policy:
    calendar: WeekCalendar
    allowed_lateness_ms: int


@dataclass(slots=True)
class UserBatchResult:
    """What applying a batch of one user's events did."""

    outcomes: list[str] = field(default_factory=list)  # one per event, in order
    #: Weeks whose teacher_week row must be written (again): changed, or seen in a duplicate,
    #: so that rows lost by a crash before their flush are written when the events are re-read.
    touched_weeks: set[int] = field(default_factory=set)
    touched_staff_weeks: set[int] = field(default_factory=set)  # the same, for staff_week
    registrations: list[Event] = field(default_factory=list)  # new or re-read registrations


def apply_user_events(
    state: UserState,
    events: Iterable[Event],
    policy: Policy,
    is_pinned: Callable[[int], bool] = lambda week: False,
) -> UserBatchResult:
    """Apply one user's events in order to ``state`` (mutated), then drop the weeks no event can
    reach any more, unless touched now or pinned (``is_pinned(week)``: its row awaits a flush)."""
    result = UserBatchResult()
    calendar = policy.calendar
    lateness = policy.allowed_lateness_ms
    for event in events:
        if event.type != "registered" and event.role not in COUNTED_ROLES:
            result.outcomes.append(IGNORED)
            continue
        week = calendar.week_of(event.ts)
        week_state = state.weeks.get(week)
        is_activity = event.type != "registered"
        if calendar.week_end_ms(week) <= state.stream_time - lateness:
            result.outcomes.append(LATE)
            if week_state is not None and event.event_id in week_state.ids:
                # Applied before: re-read after a crash, its row may not have been flushed yet.
                # The week is still held, so its row is written again; the event counts once.
                if is_activity:
                    _touch(result, week, event.role)
                else:
                    result.registrations.append(event)
            continue
        if week_state is not None and event.event_id in week_state.ids:
            result.outcomes.append(DUPLICATE)
        else:
            if event.ts > state.stream_time:
                state.stream_time = event.ts
            if week_state is None:
                week_state = state.weeks[week] = WeekState()
            week_state.ids.add(event.event_id)
            result.outcomes.append(COUNTED)
            if is_activity:
                _count(_counters_for(week_state, event.role), event)
                if event.role == "teacher":
                    if state.teacher_totals is None:
                        state.teacher_totals = Counters()
                    _count(state.teacher_totals, event)
            elif event.role == "teacher" and (state.teacher_since < 0 or event.ts < state.teacher_since):
                state.teacher_since = event.ts
        if is_activity:
            _touch(result, week, event.role)
        else:
            result.registrations.append(event)
    # The weeks this batch reports rows or registrations of stay until those are flushed (then
    # ``is_pinned`` holds them): a week dropped now, before its registration is durable, would
    # make the registration re-read after a crash late, and it would be lost.
    keep = result.touched_weeks | result.touched_staff_weeks
    keep |= {calendar.week_of(registration.ts) for registration in result.registrations}
    _evict(state, policy, keep, is_pinned)
    return result


def _touch(result: UserBatchResult, week: int, role: str) -> None:
    (result.touched_weeks if role == "teacher" else result.touched_staff_weeks).add(week)


def _counters_for(week_state: WeekState, role: str) -> Counters:
    if role == "teacher":
        return week_state
    if week_state.staff is None:
        week_state.staff = Counters()
    return week_state.staff


def _count(week_state: Counters, event: Event) -> None:
    week_state.activity += 1
    kind = event.chat_kind
    if event.type == "message_sent":
        if kind == "group":
            week_state.group_messages += 1
            week_state.chat_messages += 1
        elif kind == "personal":
            week_state.chat_messages += 1
    elif event.type == "chat_created":
        if kind == "group":
            week_state.group_chats_created += 1
    elif event.type == "call":
        week_state.calls += 1


def _evict(state: UserState, policy: Policy, keep: set[int], is_pinned: Callable[[int], bool]) -> None:
    horizon = state.stream_time - policy.allowed_lateness_ms
    calendar = policy.calendar
    closed = [
        week
        for week in state.weeks
        if calendar.week_end_ms(week) <= horizon and week not in keep and not is_pinned(week)
    ]
    for week in closed:
        del state.weeks[week]


def staff_week_row(user_id: str, week: int, week_state: WeekState) -> TeacherWeekRow | None:
    """The staff_week row for a week, or None when the user had no staff activity in it."""
    return None if week_state.staff is None else teacher_week_row(user_id, week, week_state.staff)


def teacher_week_row(user_id: str, week: int, week_state: Counters) -> TeacherWeekRow | None:
    """The row for a week, or None when the user had no teacher activity in it."""
    if week_state.activity == 0:
        return None
    return TeacherWeekRow(
        week,
        user_id,
        week_state.group_chats_created,
        week_state.group_messages,
        week_state.chat_messages,
        week_state.calls,
        week_state.activity,
    )
