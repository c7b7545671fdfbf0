"""When sending late events back after raising the lateness gives what a replay with that
lateness gives, checked on the counting core without Kafka: a first run with the default
lateness (flushing as the worker does, so weeks past the lateness are dropped from the state),
then its late events again, in the order they were rejected, with the raised lateness, into the
same state. The truth is the independent oracle run over all the lines with the raised lateness.
The end-to-end test on the broker is ``tests/integration/test_dead_letter_tools.py``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from schemas.rows import TeacherWeekRow
from stream.core.batch import BatchProcessor, DictState, Record
from stream.settings import Settings
from tests.support.eventgen import DAY_MS, T0_MS
from tests.support.oracle import expected, redrive_departures
from tests.support.redrive_set import FIRST_LATENESS, MAX_EVENT_BYTES, RAISED_LATENESS, redrive_set

NOW_MS = T0_MS + 60 * DAY_MS
BATCH = 500
Rows = dict[tuple[date, str], tuple[int, ...]]


class Store:
    """What ``… FINAL`` reads: per key the row with the highest version (the last of equals)."""

    def __init__(self) -> None:
        self.teacher_week: dict[tuple[date, str], TeacherWeekRow] = {}
        self.staff_week: dict[tuple[date, str], TeacherWeekRow] = {}
        self.registrations: set[tuple[str, str, str, int, str]] = set()

    def write(self, processor: BatchProcessor) -> None:
        rows = processor.take_pending()
        for source, target in ((rows.teacher_weeks, self.teacher_week), (rows.staff_weeks, self.staff_week)):
            for row in source.values():
                key = (date(1970, 1, 1) + timedelta(days=row.week_start), row.teacher_id)
                if key not in target or row.version >= target[key].version:
                    target[key] = row
        for r in rows.registrations.values():
            self.registrations.add((r.role, r.user_id, r.registered_by, r.ts, r.event_id))

    @staticmethod
    def shaped(rows: dict[tuple[date, str], TeacherWeekRow]) -> Rows:
        return {
            key: (r.group_chats_created, r.group_messages, r.chat_messages, r.calls, r.version)
            for key, r in rows.items()
        }


def _processor(lateness: timedelta, tmp: Path) -> BatchProcessor:
    settings = Settings(
        allowed_lateness_s=int(lateness.total_seconds()), max_event_bytes=MAX_EVENT_BYTES, store=f"chdb://{tmp}"
    )
    return BatchProcessor(settings, check_key=False, clock=lambda: NOW_MS / 1000)


def _run(
    processor: BatchProcessor, state: DictState, store: Store, lines: list[bytes], batch: int = BATCH
) -> list[bytes]:
    """Batches as the worker takes them, each flushed before the next; returns the late lines."""
    late: list[bytes] = []
    for start in range(0, len(lines), batch):
        outcome = processor.process([Record(line, None, None) for line in lines[start : start + batch]], state)
        late += [letter.record.value for letter in outcome.dead_letters if letter.reason == "late"]
        store.write(processor)
    return late


def _redrive(lines: list[bytes], tmp: Path, batch: int = BATCH) -> tuple[Store, list[bytes], list[bytes]]:
    """(the store after both runs, the late lines of the first, those of the second)."""
    state, store = DictState(), Store()
    late = _run(_processor(FIRST_LATENESS, tmp), state, store, lines, batch)
    late_again = _run(_processor(RAISED_LATENESS, tmp), state, store, late)
    return store, late, late_again


def test_late_events_of_the_redrive_set_sent_again_count_as_a_replay_with_the_raised_lateness(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = redrive_set()
    first = expected(lines, NOW_MS, lateness=FIRST_LATENESS, max_bytes=MAX_EVENT_BYTES)
    truth = expected(lines, NOW_MS, lateness=RAISED_LATENESS, max_bytes=MAX_EVENT_BYTES)
    assert redrive_departures(first, RAISED_LATENESS) == {}  # the set meets the conditions
    store, late, late_again = _redrive(lines, tmp_path)
    assert len(late) == first.rejected["late"] > 200
    assert len(late_again) == truth.rejected["late"] > 50  # some stay late with 28 days
    assert truth.counted > first.counted  # and the others count now
    assert Store.shaped(store.teacher_week) == truth.teacher_week
    assert Store.shaped(store.staff_week) == truth.staff_week
    assert store.registrations == truth.registrations
    assert store.registrations == first.registrations  # a registration is never late: all in the first run


def _message(event_id: str, day: float, user: str = "u1") -> bytes:
    ts = T0_MS + int(day * DAY_MS)
    obj = {"schema_version": 1, "type": "message_sent", "event_id": event_id, "ts": ts, "user_id": user}
    return json.dumps(obj | {"role": "teacher", "chat_id": "c", "chat_kind": "group"}).encode()


def test_a_late_event_sent_again_into_a_week_already_counted_is_not_what_a_replay_gives(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The limit the runbook states: the week had counted activity, and the worker dropped its
    state once the week was past the lateness (in a batch after the one that flushed it: here
    every message is a batch); the event sent again starts the week afresh, and its row loses to
    the stored one, which has the higher version."""
    lines = [_message("a", 1), _message("b", 1.1), _message("c", 1.2), _message("d", 30), _message("e", 2)]
    first = expected(lines, NOW_MS, lateness=FIRST_LATENESS)
    assert redrive_departures(first, RAISED_LATENESS) == {4: "week already counted"}
    store, late, _ = _redrive(lines, tmp_path, batch=1)
    assert late == [lines[4]]
    week1 = (date(2026, 9, 7), "u1")
    assert expected(lines, NOW_MS, lateness=RAISED_LATENESS).teacher_week[week1] == (0, 4, 4, 0, 4)
    assert Store.shaped(store.teacher_week)[week1] == (0, 3, 3, 0, 3)  # the stored row wins: e is lost


def test_a_late_event_sent_again_after_its_user_moved_on_is_judged_by_the_newer_stream_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The other limit: the redrive comes after everything else in the topic, so the event is
    judged against the user's newest event time, which moved past it since it was rejected."""
    lines = [_message("a", 36), _message("late", 15), _message("b", 50)]
    first = expected(lines, NOW_MS, lateness=FIRST_LATENESS)
    assert redrive_departures(first, RAISED_LATENESS) == {1: "stream time"}
    truth = expected(lines, NOW_MS, lateness=RAISED_LATENESS)
    assert truth.rejected["late"] == 0  # a replay with 28 days counts it
    store, late, late_again = _redrive(lines, tmp_path)
    assert late == late_again == [lines[1]]  # the redrive sends it back to the dead letters
    assert Store.shaped(store.teacher_week) != truth.teacher_week
