"""``stream.core.counting``: teacher counters per week, duplicates, lateness by per-user stream time,
eviction, and a round trip of the state through its stored records.

Weeks are in Europe/Moscow (UTC+3 all year); the allowed lateness is 7 days. Instants are epoch
milliseconds written out by hand (checked with ``date -u -d``).
"""

from __future__ import annotations

from datetime import date

import pytest

from schemas.decode import Event
from schemas.rows import TeacherWeekRow
from stream.core.counting import (
    COUNTED,
    DUPLICATE,
    IGNORED,
    LATE,
    Counters,
    Policy,
    UserState,
    WeekState,
    apply_user_events,
    evict_closed_weeks,
    id_hash,
    staff_week_row,
    teacher_week_row,
)
from stream.core.week import WeekCalendar
from stream.state.codec import decode_user, encode_user

SEVEN_DAYS_MS = 604_800_000


def days(day: date) -> int:
    return (day - date(1970, 1, 1)).days


# Weeks (week_start, days since the epoch) and instants, all Moscow time.
W_MAR04 = days(date(2024, 3, 4))  # 19786: Mon 2024-03-04 00:00 MSK to Mon 2024-03-11 00:00 MSK
W_MAR11 = days(date(2024, 3, 11))
W_MAR18 = days(date(2024, 3, 18))
TUE_MAR05_NOON = 1_709_629_200_000  # 2024-03-05 12:00 MSK, in W_MAR04
TUE_MAR12_NOON = 1_710_234_000_000  # 2024-03-12 12:00 MSK, in W_MAR11
MON_MAR11_MIDNIGHT = 1_710_104_400_000  # 2024-03-11 00:00 MSK: the end of W_MAR04
MON_MAR18_MIDNIGHT = 1_710_709_200_000  # 2024-03-18 00:00 MSK: W_MAR04's end + 7 days; W_MAR18 begins
MON_MAR25_MIDNIGHT = 1_711_314_000_000  # 2024-03-25 00:00 MSK: W_MAR11's end + 7 days

POLICY = Policy(WeekCalendar("Europe/Moscow"), SEVEN_DAYS_MS)


def event(
    event_type: str = "message_sent",
    *,
    event_id: str,
    ts: int = TUE_MAR05_NOON,
    kind: str = "group",
    role: str = "teacher",
    user: str = "t-1",
) -> Event:
    if event_type == "registered":
        return Event("registered", event_id, ts, user, role, None, kind)
    return Event(event_type, event_id, ts, user, role, kind, None)


def registration(*, event_id: str, ts: int = TUE_MAR05_NOON, role: str = "teacher", by: str = "self") -> Event:
    return event("registered", event_id=event_id, ts=ts, role=role, kind=by)


def row(week: int, *, chats: int = 0, group: int = 0, chat: int = 0, calls: int = 0, version: int) -> TeacherWeekRow:
    return TeacherWeekRow(week, "t-1", chats, group, chat, calls, version)


def apply(state: UserState, *events: Event, evict: bool = True) -> list[str]:
    """Apply as a batch does: the events, then the weeks they closed are dropped."""
    outcomes = apply_user_events(state, events, POLICY).outcomes
    if evict:
        evict_closed_weeks(state, POLICY)
    return outcomes


def round_trip(state: UserState, user: str = "t-1") -> UserState:
    """The state as the store gives it back."""
    entries, _ = encode_user(user, state, {})
    stored = dict(entries)
    restored, _ = decode_user(user, stored[b"u" + user.encode()], stored.get)
    return restored


# Counters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "kind", "expected"),
    [
        ("chat_created", "group", row(W_MAR04, chats=1, version=1)),
        ("chat_created", "personal", row(W_MAR04, version=1)),
        ("chat_created", "channel", row(W_MAR04, version=1)),
        ("message_sent", "group", row(W_MAR04, group=1, chat=1, version=1)),
        ("message_sent", "personal", row(W_MAR04, chat=1, version=1)),
        ("message_sent", "channel", row(W_MAR04, version=1)),
        ("call", "group", row(W_MAR04, calls=1, version=1)),
        ("call", "personal", row(W_MAR04, calls=1, version=1)),
        ("call", "channel", row(W_MAR04, calls=1, version=1)),
    ],
)
def test_teacher_activity_counts_by_type_and_chat_kind(event_type: str, kind: str, expected: TeacherWeekRow) -> None:
    state = UserState()
    assert apply(state, event(event_type, event_id="e-1", kind=kind)) == [COUNTED]
    assert teacher_week_row("t-1", W_MAR04, state.weeks[W_MAR04]) == expected


def test_channel_message_counts_nowhere_but_still_makes_a_row_with_a_version() -> None:
    state = UserState()
    apply(state, event(kind="channel", event_id="m-1"), event(kind="channel", event_id="m-2"))
    assert teacher_week_row("t-1", W_MAR04, state.weeks[W_MAR04]) == row(W_MAR04, version=2)


def test_a_week_of_mixed_activity_adds_up() -> None:
    state = UserState()
    apply(
        state,
        event("chat_created", event_id="c-1", kind="group"),
        event("chat_created", event_id="c-2", kind="personal"),
        event("message_sent", event_id="m-1", kind="group"),
        event("message_sent", event_id="m-2", kind="group"),
        event("message_sent", event_id="m-3", kind="personal"),
        event("message_sent", event_id="m-4", kind="channel"),
        event("call", event_id="k-1", kind="channel"),
        event("message_sent", event_id="m-5", ts=TUE_MAR12_NOON),  # the next week
    )
    assert teacher_week_row("t-1", W_MAR04, state.weeks[W_MAR04]) == row(
        W_MAR04, chats=1, group=2, chat=3, calls=1, version=7
    )
    assert teacher_week_row("t-1", W_MAR11, state.weeks[W_MAR11]) == row(W_MAR11, group=1, chat=1, version=1)


@pytest.mark.parametrize("role", ["student", "parent"])
@pytest.mark.parametrize("event_type", ["chat_created", "message_sent", "call"])
def test_student_and_parent_activity_is_ignored_and_creates_no_state(event_type: str, role: str) -> None:
    state = UserState()
    assert apply(state, event(event_type, event_id="e-1", role=role)) == [IGNORED]
    assert state == UserState(stream_time=-1, weeks={})


def test_staff_activity_counts_in_its_own_row_not_in_the_teacher_row() -> None:
    state = UserState()
    result = apply_user_events(
        state,
        [
            event("chat_created", event_id="s-1", role="staff"),
            event(event_id="s-2", role="staff"),
            event(event_id="t-1"),
        ],
        POLICY,
    )
    assert result.outcomes == [COUNTED, COUNTED, COUNTED]
    assert result.touched_staff_weeks == {W_MAR04} and result.touched_weeks == {W_MAR04}
    assert staff_week_row("m-1", W_MAR04, state.weeks[W_MAR04]) == TeacherWeekRow(W_MAR04, "m-1", 1, 1, 1, 0, 2)
    assert teacher_week_row("t-1", W_MAR04, state.weeks[W_MAR04]) == row(W_MAR04, group=1, chat=1, version=1)


def test_ignored_activity_does_not_advance_stream_time() -> None:
    state = UserState()
    apply(state, event(event_id="e-1"), event(event_id="e-2", role="student", ts=MON_MAR18_MIDNIGHT))
    assert state.stream_time == TUE_MAR05_NOON


# Registrations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["teacher", "student", "parent", "staff", "school", "municipality"])
def test_registration_is_kept_for_any_role_and_makes_no_teacher_row(role: str) -> None:
    state = UserState()
    reg = registration(event_id="r-1", role=role, by="parent")
    result = apply_user_events(state, [reg], POLICY)
    assert result.outcomes == [COUNTED]
    assert result.registrations == [reg]
    assert result.touched_weeks == set()
    assert teacher_week_row("t-1", W_MAR04, state.weeks[W_MAR04]) is None


def test_repeated_registration_is_a_duplicate_and_reported_once() -> None:
    state = UserState()
    reg = registration(event_id="r-1")
    assert apply(state, reg) == [COUNTED]
    result = apply_user_events(state, [reg], POLICY)
    assert result.outcomes == [DUPLICATE]
    assert result.registrations == []


# Duplicates -------------------------------------------------------------------------------------


def test_duplicate_event_id_in_one_batch_counts_once() -> None:
    state = UserState()
    outcomes = apply(state, event(event_id="m-1"), event(event_id="m-1"), event(event_id="m-1"))
    assert outcomes == [COUNTED, DUPLICATE, DUPLICATE]
    assert teacher_week_row("t-1", W_MAR04, state.weeks[W_MAR04]) == row(W_MAR04, group=1, chat=1, version=1)


def test_duplicate_event_id_in_a_later_batch_counts_once_and_changes_nothing() -> None:
    state = UserState()
    apply(state, event(event_id="m-1"))
    result = apply_user_events(state, [event(event_id="m-1")], POLICY)
    assert result.outcomes == [DUPLICATE]
    assert result.touched_weeks == set() and not result.changed
    assert teacher_week_row("t-1", W_MAR04, state.weeks[W_MAR04]) == row(W_MAR04, group=1, chat=1, version=1)


def test_duplicate_survives_a_round_trip_of_the_state_through_the_store() -> None:
    state = UserState()
    apply(state, event(event_id="m-1"))
    restored = round_trip(state)
    assert apply(restored, event(event_id="m-1"), event(event_id="m-2")) == [DUPLICATE, COUNTED]
    assert teacher_week_row("t-1", W_MAR04, restored.weeks[W_MAR04]) == row(W_MAR04, group=2, chat=2, version=2)


def test_an_id_delivered_again_with_a_ts_in_another_open_week_counts_once() -> None:
    # the same event_id is the same event, whatever ts its second delivery carries
    state = UserState()
    assert apply(state, event(event_id="m-1", ts=TUE_MAR05_NOON)) == [COUNTED]
    assert apply(state, event(event_id="m-1", ts=TUE_MAR12_NOON)) == [DUPLICATE]
    assert apply(state, event(event_id="m-1", ts=TUE_MAR05_NOON - 3_600_000)) == [DUPLICATE]
    assert set(state.weeks) == {W_MAR04}
    assert state.stream_time == TUE_MAR05_NOON  # a duplicate does not move the stream time


def test_an_id_of_a_closed_week_counts_again_in_an_open_week() -> None:
    # once its week is closed, nothing remembers an id: a new delivery in an open week counts
    state = UserState()
    apply(state, event(event_id="m-1", ts=TUE_MAR05_NOON), event(event_id="x", ts=MON_MAR18_MIDNIGHT), evict=False)
    assert W_MAR04 in state.weeks  # closed, but still held: it must not matter
    assert apply(state, event(event_id="m-1", ts=MON_MAR18_MIDNIGHT + 1)) == [COUNTED]


def test_the_same_id_of_two_users_counts_for_each() -> None:
    first, second = UserState(), UserState()
    assert apply(first, event(event_id="shared", user="t-1")) == [COUNTED]
    assert apply(second, event(event_id="shared", user="t-2")) == [COUNTED]


def test_ids_are_kept_as_64_bit_hashes() -> None:
    state = UserState()
    apply(state, event(event_id="m-1"), event(event_id="m-2"))
    assert state.weeks[W_MAR04].ids == {id_hash("m-1"), id_hash("m-2")}
    assert all(0 <= h < 2**64 for h in state.weeks[W_MAR04].ids)


# Lateness ---------------------------------------------------------------------------------------


def test_stream_time_is_the_newest_accepted_event_time_of_the_user() -> None:
    state = UserState()
    apply(state, event(event_id="m-1", ts=TUE_MAR12_NOON), event(event_id="m-2", ts=TUE_MAR05_NOON))
    assert state.stream_time == TUE_MAR12_NOON


def test_event_whose_week_ended_exactly_the_lateness_before_stream_time_is_late() -> None:
    state = UserState()
    assert apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT)) == [COUNTED]
    assert apply(state, event(event_id="old", ts=TUE_MAR05_NOON)) == [LATE]


def test_event_whose_week_ended_one_ms_less_than_the_lateness_before_stream_time_is_counted() -> None:
    state = UserState()
    assert apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT - 1)) == [COUNTED]
    assert apply(state, event(event_id="old", ts=TUE_MAR05_NOON)) == [COUNTED]
    assert teacher_week_row("t-1", W_MAR04, state.weeks[W_MAR04]) == row(W_MAR04, group=1, chat=1, version=1)


def test_last_ms_of_a_late_week_is_late_too() -> None:
    state = UserState()
    apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT))
    assert apply(state, event(event_id="old", ts=MON_MAR11_MIDNIGHT - 1)) == [LATE]
    assert apply(state, event(event_id="next-week", ts=MON_MAR11_MIDNIGHT)) == [COUNTED]


def test_order_decides_lateness_within_a_batch() -> None:
    old, new = event(event_id="old", ts=TUE_MAR05_NOON), event(event_id="new", ts=MON_MAR18_MIDNIGHT)
    assert apply(UserState(), old, new) == [COUNTED, COUNTED]
    assert apply(UserState(), new, old) == [COUNTED, LATE]


def test_late_event_changes_no_state() -> None:
    state = UserState()
    apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT))
    before = encode_user("t-1", state, {})
    result = apply_user_events(state, [event(event_id="old", ts=TUE_MAR05_NOON)], POLICY)
    assert result.outcomes == [LATE] and result.touched_weeks == set()
    assert encode_user("t-1", state, {}) == before


def test_a_registration_is_never_late_and_its_closed_week_keeps_no_id() -> None:
    state = UserState()
    apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT))
    reg = registration(event_id="r-1", ts=TUE_MAR05_NOON)  # its week closed a week ago
    result = apply_user_events(state, [reg, reg], POLICY)
    # counted each time (its row in registrations is keyed by role, user and id: it replaces itself)
    assert (result.outcomes, result.registrations) == ([COUNTED, COUNTED], [reg, reg])
    assert W_MAR04 not in state.weeks and state.stream_time == MON_MAR18_MIDNIGHT
    assert state.teacher_since == TUE_MAR05_NOON  # registered since then, for the gauges too


def test_registration_advances_stream_time() -> None:
    state = UserState()
    apply(state, registration(event_id="r-1", ts=MON_MAR18_MIDNIGHT))
    assert state.stream_time == MON_MAR18_MIDNIGHT
    assert apply(state, event(event_id="old", ts=TUE_MAR05_NOON)) == [LATE]


def test_decisions_do_not_depend_on_whether_a_closed_week_was_dropped_yet() -> None:
    kept, evicted = UserState(), UserState()
    for state, evict in ((kept, False), (evicted, True)):
        apply(state, event(event_id="m-1", ts=TUE_MAR05_NOON))
        apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT), evict=evict)
    assert W_MAR04 in kept.weeks and W_MAR04 not in evicted.weeks
    for state in (kept, evicted):
        assert apply(state, event(event_id="m-2", ts=TUE_MAR05_NOON), evict=False) == [LATE]
        assert apply(state, event(event_id="m-1", ts=TUE_MAR05_NOON), evict=False) == [LATE]
        assert apply(state, event(event_id="m-1", ts=MON_MAR18_MIDNIGHT + 5), evict=False) == [COUNTED]


# Eviction ---------------------------------------------------------------------------------------


def state_with_old_week() -> UserState:
    state = UserState()
    apply(state, event(event_id="m-1", ts=TUE_MAR05_NOON))
    return state


def test_week_past_the_lateness_is_evicted() -> None:
    state = state_with_old_week()
    apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT))
    assert set(state.weeks) == {W_MAR18}


def test_week_within_the_lateness_is_kept() -> None:
    state = state_with_old_week()
    apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT - 1))
    assert set(state.weeks) == {W_MAR04, W_MAR11}


def test_a_week_dropped_stays_late_after_the_lateness_is_raised() -> None:
    state = state_with_old_week()
    apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT))  # W_MAR04 dropped under 7 days
    assert state.closed_until == MON_MAR11_MIDNIGHT
    raised = Policy(POLICY.calendar, 4 * SEVEN_DAYS_MS)
    # under 28 days W_MAR04 would be open, but its counts are gone: counting again from zero would
    # write a row that loses to the one written before (a lower version), so the event is late
    assert apply_user_events(state, [event(event_id="m-9", ts=TUE_MAR05_NOON)], raised).outcomes == [LATE]
    assert apply_user_events(state, [event(event_id="m-8", ts=TUE_MAR12_NOON)], raised).outcomes == [COUNTED]


def test_weeks_closed_by_a_batch_stay_until_the_caller_drops_them() -> None:
    # a batch's rows are read after it: a week the batch both touched and closed is still there
    state = UserState()
    result = apply_user_events(
        state, [event(event_id="m-1", ts=TUE_MAR05_NOON), event(event_id="new", ts=MON_MAR18_MIDNIGHT)], POLICY
    )
    assert result.touched_weeks == {W_MAR04, W_MAR18}
    assert teacher_week_row("t-1", W_MAR04, state.weeks[W_MAR04]) == row(W_MAR04, group=1, chat=1, version=1)
    assert evict_closed_weeks(state, POLICY) == [W_MAR04]
    assert set(state.weeks) == {W_MAR18}


def test_only_weeks_past_the_lateness_go_when_several_are_held() -> None:
    state = UserState()
    apply(state, event(event_id="a", ts=TUE_MAR05_NOON), event(event_id="b", ts=TUE_MAR12_NOON))
    apply(state, event(event_id="c", ts=MON_MAR18_MIDNIGHT))
    assert set(state.weeks) == {W_MAR11, W_MAR18}
    apply(state, event(event_id="d", ts=MON_MAR25_MIDNIGHT))
    assert set(state.weeks) == {W_MAR18, days(date(2024, 3, 25))}


def test_week_of_only_a_registration_is_evicted_past_the_lateness() -> None:
    state = UserState()
    apply(state, registration(event_id="r-1", ts=TUE_MAR05_NOON))
    apply(state, event(event_id="new", ts=MON_MAR18_MIDNIGHT))
    assert set(state.weeks) == {W_MAR18}


# The state through the store ------------------------------------------------------------------


def test_state_survives_a_round_trip_through_its_stored_records() -> None:
    state = UserState(
        stream_time=TUE_MAR12_NOON,
        weeks={
            W_MAR04: WeekState(
                ids={id_hash(i) for i in ("c-1", "m-1", "m-2", "k-1")},
                teacher=Counters(activity=4, group_chats_created=1, group_messages=2, chat_messages=2, calls=1),
            ),
            W_MAR11: WeekState(ids={id_hash("r-1")}),
        },
        teacher_since=TUE_MAR05_NOON,
        teacher_totals=Counters(activity=4, group_chats_created=1, group_messages=2, chat_messages=2, calls=1),
    )
    restored = round_trip(state)
    assert restored == state
    assert teacher_week_row("t-1", W_MAR04, restored.weeks[W_MAR04]) == row(
        W_MAR04, chats=1, group=2, chat=2, calls=1, version=4
    )


def test_state_built_by_applying_events_survives_round_trip() -> None:
    state = UserState()
    apply(state, event(event_id="m-1"), event("call", event_id="k-1", ts=TUE_MAR12_NOON), registration(event_id="r-1"))
    assert round_trip(state) == state


def test_missing_state_decodes_to_an_empty_state() -> None:
    assert decode_user("t-1", None, lambda key: None) == (UserState(stream_time=-1, weeks={}), {})
