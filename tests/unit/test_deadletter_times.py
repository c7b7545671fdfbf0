"""``--since`` / ``--until`` of the dead-letter commands: dates and times in the configured zone
(Moscow by default), explicit offsets, durations back from now; errors name the flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stream.tools.deadletters.times import TimeSpecError, Window, parse_instant, window_of

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=MSK)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-12-01", utc(2026, 11, 30, 21, 0)),  # midnight in Moscow (UTC+3)
        ("2026-12-01T09:30", utc(2026, 12, 1, 6, 30)),
        ("2026-12-01 09:30:15", utc(2026, 12, 1, 6, 30, 15)),
        ("2026-12-01T09:30+05:00", utc(2026, 12, 1, 4, 30)),
        ("2026-12-01T09:30Z", utc(2026, 12, 1, 9, 30)),
        ("24h", utc(2026, 12, 2, 9, 0)),
        ("7d", utc(2026, 11, 26, 9, 0)),
        ("90m", utc(2026, 12, 3, 7, 30)),
        ("2w", utc(2026, 11, 19, 9, 0)),
        ("30s", utc(2026, 12, 3, 8, 59, 30)),
        (" 7d ", utc(2026, 11, 26, 9, 0)),
    ],
)
def test_an_instant_is_read_in_the_configured_zone_unless_it_says_otherwise(text: str, instant: datetime) -> None:
    assert parse_instant(text, zone=MSK, now=NOW) == instant


def test_a_date_is_midnight_in_another_configured_zone() -> None:
    zone = ZoneInfo("Asia/Vladivostok")  # UTC+10
    assert parse_instant("2026-12-01", zone=zone, now=NOW) == utc(2026, 11, 30, 14, 0)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "7", "7y", "-7d", "", "2026/12/01", "1e3d"])
def test_what_is_not_a_time_is_refused_with_the_forms_it_could_take(text: str) -> None:
    with pytest.raises(TimeSpecError, match="is not a time: give a date"):
        parse_instant(text, zone=MSK, now=NOW)


def test_a_window_keeps_since_and_leaves_out_until() -> None:
    window = window_of("2026-12-01", "2026-12-02", zone=MSK, now=NOW)
    since = int(utc(2026, 11, 30, 21, 0).timestamp() * 1000)
    assert window == Window(since, since + 86_400_000)
    assert since in window and since - 1 not in window
    assert since + 86_400_000 - 1 in window and since + 86_400_000 not in window
    assert window.as_dict() == {"since": "2026-11-30T21:00:00+00:00", "until": "2026-12-01T21:00:00+00:00"}


def test_an_open_window_holds_everything() -> None:
    window = window_of(None, None, zone=MSK, now=NOW)
    assert 0 in window and 2**62 in window
    assert window.as_dict() == {"since": None, "until": None}


def test_relative_bounds_count_back_from_now() -> None:
    window = window_of("2d", "1d", zone=MSK, now=NOW)
    assert window.until_ms is not None and window.since_ms is not None
    assert window.until_ms - window.since_ms == int(timedelta(days=1).total_seconds() * 1000)


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2026-12-02", "2026-12-01", "--since 2026-12-02 is not before --until 2026-12-01"),
        ("2026-12-01", "2026-12-01", "is not before"),
        ("soon", None, "--since: 'soon' is not a time"),
        (None, "later", "--until: 'later' is not a time"),
    ],
)
def test_a_bad_window_says_which_flag(since: str | None, until: str | None, message: str) -> None:
    with pytest.raises(TimeSpecError, match=message):
        window_of(since, until, zone=MSK, now=NOW)
