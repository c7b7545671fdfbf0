"""``stream.core.batch``: a batch of raw messages through decode and the core, with the state held by a
``DictState`` (as replay holds it) or a counting fake; tallies, dead letters and pending rows.

Weeks are in Europe/Moscow, allowed lateness 7 days, future tolerance 5 minutes, and the clock is
fixed so that ``future`` is deterministic. Instants are epoch milliseconds written out by hand.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

from schemas.rows import RegistrationRow, TeacherWeekRow
from stream.core.batch import BatchProcessor, DictState, MessageTally, Record
from stream.core.counting import UserState
from stream.settings import Settings


def days(day: date) -> int:
    return (day - date(1970, 1, 1)).days


W_MAR04 = days(date(2024, 3, 4))
W_MAR11 = days(date(2024, 3, 11))
W_MAR18 = days(date(2024, 3, 18))
TUE_MAR05_NOON = 1_709_629_200_000  # 2024-03-05 12:00 MSK, in W_MAR04
TUE_MAR12_NOON = 1_710_234_000_000  # 2024-03-12 12:00 MSK, in W_MAR11
MON_MAR18_MIDNIGHT = 1_710_709_200_000  # 2024-03-18 00:00 MSK: W_MAR04's end + 7 days
NOW_S = 1_710_763_200.0  # the fixed clock: 2024-03-18 15:00 MSK
NOW_MS = 1_710_763_200_000

SETTINGS = Settings(timezone="Europe/Moscow", allowed_lateness_s=7 * 24 * 3600, future_tolerance_s=300)


def processor(*, check_key: bool = False) -> BatchProcessor:
    return BatchProcessor(SETTINGS, check_key=check_key, clock=lambda: NOW_S)


def line(
    event_type: str = "message_sent",
    *,
    event_id: str,
    user: str = "t-1",
    ts: int = TUE_MAR05_NOON,
    role: str = "teacher",
    kind: str = "group",
    by: str = "self",
) -> bytes:
    obj: dict[str, Any] = {
        "schema_version": 1,
        "type": event_type,
        "event_id": event_id,
        "ts": ts,
        "user_id": user,
        "role": role,
    }
    if event_type in ("chat_created", "message_sent"):
        obj.update(chat_id="c-1", chat_kind=kind)
    elif event_type == "call":
        obj.update(call_id="k-1", chat_kind=kind)
    else:
        obj.update(registered_by=by)
    return json.dumps(obj).encode()


def records(*lines: bytes) -> list[Record]:
    """Records as replay makes them: no key, origin = line number."""
    return [Record(value, None, number) for number, value in enumerate(lines, start=1)]


def keyed(value: bytes, key: bytes | None) -> Record:
    return Record(value, key, "keyed")


class CountingState(DictState):
    """A DictState that counts loads and changes per user."""

    def __init__(self) -> None:
        super().__init__()
        self.gets: Counter[str] = Counter()
        self.puts: Counter[str] = Counter()

    def load(self, user_id: str) -> UserState:
        self.gets[user_id] += 1
        return super().load(user_id)

    def changed(self, user_id: str) -> None:
        self.puts[user_id] += 1
        super().changed(user_id)


def assert_tally_adds_up(tally: MessageTally) -> None:
    assert tally.consumed == tally.counted + tally.ignored + tally.duplicates + tally.rejected_total


# State access -----------------------------------------------------------------------------------


def test_each_user_state_is_read_and_written_once_per_batch() -> None:
    states = CountingState()
    batch = records(
        line(event_id="a-1", user="t-1"),
        line(event_id="b-1", user="t-2"),
        line(event_id="a-2", user="t-1", ts=TUE_MAR12_NOON),
        line("call", event_id="a-3", user="t-1"),
        line("registered", event_id="b-2", user="t-2"),
        line(event_id="b-3", user="t-2", ts=MON_MAR18_MIDNIGHT),
        line(event_id="s-1", user="s-1", role="student"),
    )
    processor().process(batch, states)
    assert states.gets == Counter({"t-1": 1, "t-2": 1})
    assert states.puts == Counter({"t-1": 1, "t-2": 1})


def test_state_is_not_written_when_a_batch_changes_nothing() -> None:
    states = CountingState()
    batch = records(line(event_id="a-1"), line(event_id="a-2"))
    processor().process(batch, states)
    processor().process(batch, states)  # redelivered: duplicates only
    assert states.puts == Counter({"t-1": 1})
    assert states.gets == Counter({"t-1": 2})


def test_only_late_events_write_no_state() -> None:
    states = CountingState()
    proc = processor()
    proc.process(records(line(event_id="new", ts=MON_MAR18_MIDNIGHT)), states)
    outcome = proc.process(records(line(event_id="old", ts=TUE_MAR05_NOON)), states)
    assert outcome.tally.rejected == Counter({"late": 1})
    assert states.puts == Counter({"t-1": 1})


def test_non_teacher_activity_touches_no_state() -> None:
    states = CountingState()
    outcome = processor().process(records(line(event_id="p-1", user="p-1", role="parent")), states)
    assert (outcome.tally.ignored, states.gets, states.puts, states.data) == (1, Counter(), Counter(), {})


# Tally and dead letters -------------------------------------------------------------------------

BAD_JSON = b'{"schema_version": 1, "type": "call"'
NOT_UTF8 = b"\xff\xfe{}"
FUTURE = line(event_id="f-1", ts=NOW_MS + 300_001)
AT_TOLERANCE = line(event_id="f-0", ts=NOW_MS + 300_000)
LATE = line(event_id="old", ts=TUE_MAR05_NOON)


def mixed_batch() -> list[Record]:
    return records(
        line(event_id="m-1", ts=TUE_MAR12_NOON),  # counted
        line(event_id="m-1", ts=TUE_MAR12_NOON),  # duplicate
        line(event_id="s-1", user="s-1", role="student"),  # ignored
        BAD_JSON,  # bad_json
        NOT_UTF8,  # bad_json
        FUTURE,  # future
        AT_TOLERANCE,  # counted
        line(event_id="new", user="t-2", ts=MON_MAR18_MIDNIGHT),  # counted
        line(event_id="old", user="t-2", ts=TUE_MAR05_NOON),  # late: t-2's stream time is past W_MAR04 + 7 days
        line("registered", event_id="r-1", user="school-1", role="school"),  # counted
        line("registered", event_id="r-1", user="school-1", role="school"),  # duplicate
        line(event_id="x-1", role="admin"),  # unknown_role
    )


def test_tally_of_a_mixed_batch() -> None:
    outcome = processor().process(mixed_batch(), DictState())
    tally = outcome.tally
    assert (tally.consumed, tally.counted, tally.ignored, tally.duplicates) == (12, 4, 1, 2)
    assert tally.rejected == Counter({"bad_json": 2, "future": 1, "late": 1, "unknown_role": 1})
    assert tally.rejected_total == 5
    assert_tally_adds_up(tally)
    assert outcome.counted_by_type == Counter({"message_sent": 3, "registered": 1})


def test_t1_is_not_late_though_t2_stream_time_is_ahead_stream_time_is_per_user() -> None:
    outcome = processor().process(
        records(
            line(event_id="new", user="t-2", ts=MON_MAR18_MIDNIGHT),
            line(event_id="old", user="t-1", ts=TUE_MAR05_NOON),
        ),
        DictState(),
    )
    assert (outcome.tally.counted, outcome.dead_letters) == (2, [])


def test_dead_letters_carry_the_original_record_and_the_reason() -> None:
    batch = mixed_batch()
    outcome = processor().process(batch, DictState())
    got = sorted((letter.record.origin, letter.reason, letter.record.value) for letter in outcome.dead_letters)
    assert got == [
        (4, "bad_json", BAD_JSON),
        (5, "bad_json", NOT_UTF8),
        (6, "future", FUTURE),
        (9, "late", LATE.replace(b'"t-1"', b'"t-2"')),
        (12, "unknown_role", batch[11].value),
    ]
    for letter in outcome.dead_letters:
        assert letter.record is batch[letter.record.origin - 1]
        assert letter.detail


def test_late_dead_letter_says_how_old_the_event_is() -> None:
    outcome = processor().process(records(line(event_id="new", ts=MON_MAR18_MIDNIGHT), LATE), DictState())
    [letter] = outcome.dead_letters
    # 2024-03-05 12:00 to 2024-03-18 00:00 MSK is 12 days and 12 hours
    assert letter.detail == "event is 300 h older than the user's stream time; its week is closed"


def test_kafka_key_other_than_user_id_is_dead_lettered_when_checked() -> None:
    value = line(event_id="m-1", user="t-1")
    batch = [keyed(value, b"t-1"), keyed(line(event_id="m-2", user="t-1"), b"t-9"), keyed(value, None)]
    outcome = processor(check_key=True).process(batch, DictState())
    assert outcome.tally.counted == 1
    assert outcome.tally.rejected == Counter({"key_mismatch": 2})
    assert [letter.record for letter in outcome.dead_letters] == batch[1:]


def test_tally_adds_up_over_several_batches() -> None:
    proc, states, total = processor(), DictState(), MessageTally()
    for _ in range(3):  # the same batch, redelivered twice
        total.add(proc.process(mixed_batch(), states).tally)
    assert (total.consumed, total.counted, total.ignored, total.duplicates) == (36, 4, 3, 14)
    assert total.rejected == Counter({"bad_json": 6, "future": 3, "late": 3, "unknown_role": 3})
    assert_tally_adds_up(total)


# Pending rows -----------------------------------------------------------------------------------


def test_pending_rows_hold_the_newest_version_per_teacher_and_week() -> None:
    proc, states = processor(), DictState()
    proc.process(records(line(event_id="m-1"), line("chat_created", event_id="c-1")), states)
    assert proc.pending.teacher_weeks == {("t-1", W_MAR04): TeacherWeekRow(W_MAR04, "t-1", 1, 1, 1, 0, 2)}
    proc.process(
        records(
            line(event_id="m-2", kind="personal"),
            line("call", event_id="k-1", kind="channel"),
            line(event_id="m-3", ts=TUE_MAR12_NOON),
            line(event_id="m-4", user="t-2", kind="channel"),
        ),
        states,
    )
    assert proc.pending.teacher_weeks == {
        ("t-1", W_MAR04): TeacherWeekRow(W_MAR04, "t-1", 1, 1, 2, 1, 4),
        ("t-1", W_MAR11): TeacherWeekRow(W_MAR11, "t-1", 0, 1, 1, 0, 1),
        ("t-2", W_MAR04): TeacherWeekRow(W_MAR04, "t-2", 0, 0, 0, 0, 1),  # a channel message: a row, no counts
    }


def test_non_teacher_activity_makes_no_row() -> None:
    proc = processor()
    proc.process(records(line(event_id="s-1", user="s-1", role="student")), DictState())
    assert len(proc.pending) == 0


def test_registrations_are_pending_for_any_role_once_per_user_and_event_id() -> None:
    proc = processor()
    proc.process(
        records(
            line("registered", event_id="r-1", user="t-1"),
            line("registered", event_id="r-2", user="s-1", role="student", by="parent"),
            line("registered", event_id="r-3", user="school-1", role="school"),
            line("registered", event_id="r-4", user="mun-1", role="municipality"),
            line("registered", event_id="r-1", user="t-1"),  # a duplicate
            line("registered", event_id="r-1", user="t-2"),  # the same id, another user: its own row
        ),
        DictState(),
    )
    assert proc.pending.registrations == {
        ("teacher", "t-1", "r-1"): RegistrationRow("t-1", "teacher", "self", TUE_MAR05_NOON, "r-1"),
        ("student", "s-1", "r-2"): RegistrationRow("s-1", "student", "parent", TUE_MAR05_NOON, "r-2"),
        ("school", "school-1", "r-3"): RegistrationRow("school-1", "school", "self", TUE_MAR05_NOON, "r-3"),
        ("municipality", "mun-1", "r-4"): RegistrationRow("mun-1", "municipality", "self", TUE_MAR05_NOON, "r-4"),
        ("teacher", "t-2", "r-1"): RegistrationRow("t-2", "teacher", "self", TUE_MAR05_NOON, "r-1"),
    }
    assert proc.pending.teacher_weeks == {}


def test_pending_rows_after_a_take_are_only_those_changed_since() -> None:
    proc, states = processor(), DictState()
    proc.process(records(line(event_id="m-1"), line(event_id="m-2", ts=TUE_MAR12_NOON)), states)
    taken = proc.take_pending()
    assert set(taken.teacher_weeks) == {("t-1", W_MAR04), ("t-1", W_MAR11)}
    proc.process(records(line(event_id="m-3", ts=TUE_MAR12_NOON)), states)
    assert proc.pending.teacher_weeks == {("t-1", W_MAR11): TeacherWeekRow(W_MAR11, "t-1", 0, 2, 2, 0, 2)}


def test_redelivered_events_count_once_and_make_no_row() -> None:
    states = DictState()
    batch = records(line(event_id="m-1"), line(event_id="m-2"))
    processor().process(batch, states)
    again = processor()
    outcome = again.process(batch, states)
    assert (outcome.tally.counted, outcome.tally.duplicates) == (0, 2)
    assert len(again.pending) == 0


def test_a_batch_writes_the_row_of_a_week_it_also_closed() -> None:
    # m-1 counts in W_MAR04, then "new" moves t-1's stream time past W_MAR04 + 7 days in the same
    # batch: the week is dropped from the state, but only after its row was taken
    proc, states = processor(), DictState()
    outcome = proc.process(
        records(line(event_id="m-1", ts=TUE_MAR05_NOON), line(event_id="new", ts=MON_MAR18_MIDNIGHT)), states
    )
    assert outcome.tally.counted == 2
    assert proc.pending.teacher_weeks[("t-1", W_MAR04)] == TeacherWeekRow(W_MAR04, "t-1", 0, 1, 1, 0, 1)
    assert set(states.data["t-1"].weeks) == {W_MAR18}


def test_late_decision_is_the_same_whether_or_not_the_closed_week_was_dropped() -> None:
    for split in (False, True):  # one batch, or two: the week is dropped at the end of the first
        proc, states = processor(), DictState()
        first = [line(event_id="m-1"), line(event_id="new", ts=MON_MAR18_MIDNIGHT)]
        if split:
            proc.process(records(first[0]), states)
            proc.process(records(first[1]), states)
        else:
            proc.process(records(*first), states)
        outcome = proc.process(records(line(event_id="m-2"), line(event_id="m-1")), states)
        assert outcome.tally.rejected == Counter({"late": 2})


def test_a_week_of_one_account_passing_the_hot_threshold_is_reported_once() -> None:
    settings = SETTINGS.model_copy(update={"hot_user_events": 3})
    proc, states = BatchProcessor(settings, check_key=False, clock=lambda: NOW_S), DictState()
    first = proc.process(records(*(line(event_id=f"m-{i}") for i in range(2))), states)
    second = proc.process(records(*(line(event_id=f"m-{i}") for i in range(2, 6))), states)
    third = proc.process(records(line(event_id="m-9")), states)
    assert (first.hot_weeks, [week for _, week in second.hot_weeks], third.hot_weeks) == ([], [W_MAR04], [])
    assert second.tally.counted == 4  # counted exactly all the same
