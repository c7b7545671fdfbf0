"""State stays bounded: a user's week is dropped once it ended the allowed lateness (7 days)
before the user's stream time, so over 13 weeks of stream time no user holds more than 2 weeks
(the week in progress and the previous one, open for late events) and the state does not grow.
The long version with RSS: ``python -m tests.tools.state_growth --weeks 16 --users 20000``."""

from __future__ import annotations

import json

from stream.core.batch import BatchProcessor, DictState, Record
from stream.settings import Settings
from tests.tools.state_growth import T0_MS, WEEK_MS, simulate

OPEN_WEEKS = 2  # the week in progress and the previous one (lateness 7 days)


def test_over_13_weeks_no_user_holds_more_weeks_than_the_lateness_allows_and_state_is_flat() -> None:
    samples = list(simulate(weeks=13, users=400, per_week=8))
    assert [s.week for s in samples] == list(range(1, 14))
    assert max(s.max_weeks_per_user for s in samples) <= OPEN_WEEKS
    week4, week12 = samples[3], samples[11]
    assert week12.users == 400 and week4.users >= 395  # (nearly) everyone has state from week 4 on
    assert week12.state_bytes <= 1.25 * week4.state_bytes
    assert week12.live_weeks <= 1.25 * week4.live_weeks
    assert week12.ids <= 1.25 * week4.ids


def test_with_a_lateness_longer_than_the_run_nothing_is_dropped_and_state_grows() -> None:
    # the control: the measure above sees growth when weeks are not released
    samples = list(simulate(weeks=13, users=100, per_week=4, lateness_days=365))
    assert samples[11].max_weeks_per_user == 12
    assert samples[11].state_bytes > 2.5 * samples[3].state_bytes


def message(event_id: str, ts: int) -> Record:
    line = {
        "schema_version": 1,
        "type": "message_sent",
        "event_id": event_id,
        "ts": ts,
        "user_id": "t-1",
        "role": "teacher",
        "chat_id": "c",
        "chat_kind": "group",
    }
    return Record(json.dumps(line).encode(), b"t-1", None)


def test_a_week_is_released_once_past_the_lateness_not_before() -> None:
    processor = BatchProcessor(Settings(), check_key=True, clock=lambda: T0_MS / 1000 + 30 * 86_400)
    state = DictState()

    first = T0_MS // 86_400_000 + 1  # T0 is Monday 00:00 Moscow: 21:00 UTC of the day before

    def weeks() -> list[int]:
        return sorted((week - first) // 7 for week in state.data["t-1"].weeks)

    processor.process([message("a", T0_MS + 3_600_000)], state)
    assert weeks() == [0]
    processor.process([message("b", T0_MS + WEEK_MS + 6 * 86_400_000)], state)  # week 0 still open
    assert weeks() == [0, 1]
    processor.process([message("c", T0_MS + 2 * WEEK_MS)], state)  # week 0 ended 7 days ago: dropped
    assert weeks() == [1, 2]
    processor.process([message("e", T0_MS + WEEK_MS + 5)], state)  # week 1 is open still: counted there
    assert weeks() == [1, 2] and processor.take_pending().teacher_weeks
    processor.process([message("f", T0_MS + 3 * WEEK_MS)], state)  # week 1 closes
    assert weeks() == [2, 3]
