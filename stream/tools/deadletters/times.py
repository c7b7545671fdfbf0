"""``--since`` / ``--until``: the instants that bound which dead letters a command reads.

A dead letter's time is its Kafka timestamp: when the worker wrote it to the dead-letter topic,
not the event's own ``ts``. Accepted forms:

* a date, ``2026-12-01``: midnight at the start of that day in the configured zone
  (``SFERUM_TIMEZONE``, Moscow by default);
* a date and time, ``2026-12-01T09:30`` or ``2026-12-01 09:30:15``: in that zone, unless it
  carries an offset (``+03:00``, ``Z``);
* a duration back from now: ``90m``, ``24h``, ``7d``, ``2w`` (also ``s``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_AGO = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class TimeSpecError(ValueError):
    """A ``--since`` or ``--until`` the command cannot read; the message says what it expects."""


def parse_instant(text: str, *, zone: ZoneInfo, now: datetime) -> datetime:
    """The instant ``text`` names (timezone-aware). ``now`` must be aware."""
    spec = text.strip()
    ago = _AGO.match(spec)
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        if len(spec) == 10:
            day = date.fromisoformat(spec)
            return datetime(day.year, day.month, day.day, tzinfo=zone)
        moment = datetime.fromisoformat(spec)
    except ValueError:
        raise TimeSpecError(
            f"{text!r} is not a time: give a date (2026-12-01), a date and time (2026-12-01T09:30, "
            "optionally with an offset such as +03:00) or a duration back from now (90m, 24h, 7d)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


@dataclass(frozen=True, slots=True)
class Window:
    """Dead letters written at ``since`` or later and before ``until`` (ms since the epoch; None:
    unbounded)."""

    since_ms: int | None = None
    until_ms: int | None = None

    def __contains__(self, timestamp_ms: int) -> bool:
        if self.since_ms is not None and timestamp_ms < self.since_ms:
            return False
        return self.until_ms is None or timestamp_ms < self.until_ms

    def as_dict(self) -> dict[str, str | None]:
        return {"since": iso_utc(self.since_ms), "until": iso_utc(self.until_ms)}


def window_of(since: str | None, until: str | None, *, zone: ZoneInfo, now: datetime) -> Window:
    """The window of ``--since`` and ``--until``; an empty one (since not before until) is an error."""
    bounds: list[int | None] = []
    for flag, text in (("--since", since), ("--until", until)):
        if text is None:
            bounds.append(None)
            continue
        try:
            bounds.append(int(parse_instant(text, zone=zone, now=now).timestamp() * 1000))
        except TimeSpecError as exc:
            raise TimeSpecError(f"{flag}: {exc}") from None
    since_ms, until_ms = bounds
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise TimeSpecError(f"--since {since} is not before --until {until}")
    return Window(since_ms, until_ms)


def iso_utc(ms: int | None) -> str | None:
    """An instant (ms since the epoch) as ISO 8601 in UTC, as the JSON outputs give times."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=ZoneInfo("UTC")).isoformat()
