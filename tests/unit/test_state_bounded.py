"""State stays bounded (issue "Reliability", item 6): a user's week is dropped once its row is
flushed and the week ended the allowed lateness (7 days) before the user's stream time, so over
13 weeks of stream time no user holds more than 3 weeks (the week in progress, the previous one,
open for late events, and one whose row awaits its flush) and the state does not grow. The long
version with RSS: ``python -m tests.state_growth --weeks 16 --users 20000``."""

from __future__ import annotations

import json

from stream.batch import BatchProcessor, DictState, Record
from stream.core import decode_state
from stream.settings import Settings
from tests.state_growth import T0_MS, WEEK_MS, simulate

OPEN_WEEKS = 2  # the week in progress and the previous one (lateness 7 days)
BEING_FLUSHED = 1


def test_over_13_weeks_no_user_holds_more_weeks_than_the_lateness_allows_and_state_is_flat() -> None:
    samples = list(simulate(weeks=13, users=400, per_week=8))
    assert [s.week for s in samples] == list(range(1, 14))
    assert max(s.max_weeks_per_user for s in samples) <= OPEN_WEEKS + BEING_FLUSHED
    week4, week12 = samples[3], samples[11]
    assert week12.users == 400 and week4.users >= 395  # (nearly) everyone has state from week 4 on
    assert week12.state_bytes <= 1.25 * week4.state_bytes
    assert week12.live_weeks <= 1.25 * week4.live_weeks
    assert week12.ids <= 1.25 * week4.ids


def test_without_a_successful_flush_weeks_stay_pinned_and_state_grows() -> None:
    # the control: the measure above sees growth when weeks are not released
    samples = list(simulate(weeks=13, users=100, per_week=4, flush=False))
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


def test_a_week_is_released_once_flushed_and_past_the_lateness_not_before() -> None:
    processor = BatchProcessor(Settings(), check_key=True, clock=lambda: T0_MS / 1000 + 30 * 86_400)
    state = DictState()

    def weeks() -> int:
        return len(decode_state(state.data["t-1"]).weeks)

    processor.process([message("a", T0_MS + 3_600_000)], state)  # week 0
    processor.process([message("b", T0_MS + 2 * WEEK_MS)], state)  # week 2: week 0 is past the lateness
    assert weeks() == 2  # ... but its row is not flushed yet: kept
    processor.take_pending()
    processor.process([message("c", T0_MS + 2 * WEEK_MS + 1)], state)  # during the flush: still pinned
    assert weeks() == 2
    processor.flush_done()
    processor.process([message("d", T0_MS + 2 * WEEK_MS + 2)], state)  # flushed: released
    assert weeks() == 1
    processor.process([message("e", T0_MS + WEEK_MS + 5)], state)  # week 1, within the lateness: open
    assert weeks() == 2
