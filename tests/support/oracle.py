"""The expected results of a list of lines, computed straight from the event contract (README) with
the standard library, independently of the code under test (no import from ``stream``,
``schemas``, ``sinks``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from tests.support.eventgen import MSK, week_of
from tests.support.topic_order import merged_order

LATENESS = timedelta(days=7)
FUTURE_MS = 300_000
PERSON = {"teacher", "student", "parent", "staff"}
KINDS = {"group", "personal", "channel"}
NEEDS = {
    "chat_created": ("chat_id", "chat_kind"),
    "message_sent": ("chat_id", "chat_kind"),
    "call": ("call_id", "chat_kind"),
    "registered": ("registered_by",),
}


@dataclass
class Expected:
    #: (week_start, teacher_id) -> (group_chats_created, group_messages, chat_messages, calls, version)
    teacher_week: dict[tuple[date, str], tuple[int, int, int, int, int]] = field(default_factory=dict)
    #: the same for activity sent with role staff (the accounts of municipalities' education authorities)
    staff_week: dict[tuple[date, str], tuple[int, int, int, int, int]] = field(default_factory=dict)
    registrations: set[tuple[str, str, str, int, str]] = field(default_factory=set)
    consumed: int = 0
    counted: int = 0
    ignored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    #: index of each rejected line -> reason
    rejected_lines: dict[int, str] = field(default_factory=dict)
    #: index of each late line -> (user, Monday of its week, role, type, the user's stream time then)
    late_lines: dict[int, tuple[str, datetime, str, str, datetime]] = field(default_factory=dict)
    #: each user's stream time after the last line
    stream_time: dict[str, datetime] = field(default_factory=dict)


def _reject_reason(line: bytes, now_ms: int, max_bytes: int | None = None) -> str | dict | None:
    """The reason a line is malformed, or the parsed object."""
    if max_bytes is not None and len(line) > max_bytes:
        return "too_large"
    try:
        obj = json.loads(line.decode("utf-8"), parse_constant=lambda c: math.nan)
    except (UnicodeDecodeError, ValueError):
        return "bad_json"
    if _has_nan(obj):
        return "bad_json"
    if not isinstance(obj, dict):
        return "not_object"
    for name in ("schema_version", "type"):
        if name not in obj:
            return "missing_field"
    if type(obj["schema_version"]) is not int:
        return "bad_value"
    if obj["schema_version"] != 1:
        return "unsupported_version"
    if not isinstance(obj["type"], str):
        return "bad_value"
    if obj["type"] not in NEEDS:
        return "unknown_type"
    for name in ("event_id", "user_id"):
        if name not in obj:
            return "missing_field"
        if not isinstance(obj[name], str) or not obj[name]:
            return "bad_value"
    if "ts" not in obj:
        return "missing_field"
    if type(obj["ts"]) is not int:
        return "bad_value"
    if obj["ts"] > now_ms + FUTURE_MS:
        return "future"
    if "role" not in obj:
        return "missing_field"
    roles = PERSON | {"school", "municipality"} if obj["type"] == "registered" else PERSON
    if obj["role"] not in roles:
        return "unknown_role"
    for name in NEEDS[obj["type"]]:
        if name not in obj:
            return "missing_field"
        if not isinstance(obj[name], str) or not obj[name]:
            return "bad_value"
    if obj["type"] != "registered" and obj["chat_kind"] not in KINDS:
        return "unknown_chat_kind"
    if obj["type"] == "registered" and obj["registered_by"] not in ("self", "parent"):
        return "bad_value"
    return obj


def _has_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value) or math.isinf(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


def expected(
    lines: list[bytes], now_ms: int, *, lateness: timedelta = LATENESS, max_bytes: int | None = None
) -> Expected:
    """Process the lines in order. A user's stream time is the newest ts of the user's counted
    events. An event is late when its week ended at least ``lateness`` before it (a
    registration never is: then it is counted, and its id not kept); else a
    duplicate when an earlier counted event of the user has the same event_id and a week that has
    not ended ``lateness`` before the stream time (whatever the two events' ts); else counted.
    ``max_bytes``: longer lines are ``too_large``."""
    out = Expected()
    stream_time = out.stream_time
    #: (user, event_id) -> the week_end of the counted event with that id
    seen: dict[tuple[str, str], datetime] = {}
    rows: dict[tuple[str, date, str], list[int]] = {}
    for index, line in enumerate(lines):
        out.consumed += 1
        parsed = _reject_reason(line, now_ms, max_bytes)
        if isinstance(parsed, str):
            out.rejected[parsed] += 1
            out.rejected_lines[index] = parsed
            continue
        obj = parsed
        user, etype = obj["user_id"], obj["type"]
        if etype != "registered" and obj["role"] not in ("teacher", "staff"):
            out.ignored += 1
            continue
        when = datetime.fromtimestamp(obj["ts"] / 1000, MSK)
        monday = week_of(obj["ts"])
        week_end = monday + timedelta(days=7)
        newest = stream_time.get(user)
        if newest is not None and week_end <= newest - lateness and etype == "registered":
            # a registration is never late: counted, its id not kept (its week is closed)
            out.counted += 1
            out.registrations.add((obj["role"], user, obj["registered_by"], obj["ts"], obj["event_id"]))
            continue
        if newest is not None and week_end <= newest - lateness:
            out.rejected["late"] += 1
            out.rejected_lines[index] = "late"
            out.late_lines[index] = (user, monday, obj["role"], etype, newest)
            continue
        earlier = seen.get((user, obj["event_id"]))
        if earlier is not None and (newest is None or earlier > newest - lateness):
            out.duplicates += 1
            continue
        if newest is None or when > newest:
            stream_time[user] = when
        seen[(user, obj["event_id"])] = week_end
        out.counted += 1
        if etype == "registered":
            out.registrations.add((obj["role"], user, obj["registered_by"], obj["ts"], obj["event_id"]))
            continue
        row = rows.setdefault((obj["role"], monday.date(), user), [0, 0, 0, 0, 0])
        kind = obj["chat_kind"]
        if etype == "chat_created" and kind == "group":
            row[0] += 1
        if etype == "message_sent" and kind == "group":
            row[1] += 1
        if etype == "message_sent" and kind in ("group", "personal"):
            row[2] += 1
        if etype == "call":
            row[3] += 1
        row[4] += 1
    for (role, week, user), value in rows.items():
        table = out.teacher_week if role == "teacher" else out.staff_week
        table[(week, user)] = tuple(value)  # type: ignore[assignment]
    return out


def expected_through_topics(lines: list[bytes], now_ms: int, partitions: int) -> Expected:
    """``expected`` of the lines produced through one topic per event type, in the order a worker
    applies them (``tests/support/topic_order.py``); ``rejected_lines`` by the lines' own index."""

    def ts_of(index: int) -> int:
        parsed = _reject_reason(lines[index], now_ms)
        return -1 if isinstance(parsed, str) else int(parsed["ts"])

    order = merged_order(lines, partitions, ts_of)
    assert sorted(order) == list(range(len(lines)))
    out = expected([lines[i] for i in order], now_ms)
    out.rejected_lines = {order[i]: reason for i, reason in out.rejected_lines.items()}
    return out


def redrive_departures(first: Expected, raised: timedelta) -> dict[int, str]:
    """Late lines of ``first`` (computed with a smaller lateness) for which sending them again
    after everything else, to a worker with the ``raised`` lateness, would not give what a replay
    of all the lines with ``raised`` gives, and why:

    * ``stream time``: the event is decided against its user's newest event time at the end,
      not at its place in the lines, and the two decisions differ;
    * ``week already counted``: it would count in a week that already has counted activity of
      that user and role: the worker keeps a week's event ids and counters only while the week is
      within the lateness, so the week is no longer held and its row cannot be added to.
    """
    found: dict[int, str] = {}
    for index, (user, monday, role, etype, newest_then) in first.late_lines.items():
        week_end = monday + timedelta(days=7)
        in_replay = week_end > newest_then - raised
        at_the_end = week_end > first.stream_time[user] - raised
        if in_replay != at_the_end:
            found[index] = "stream time"
        elif at_the_end and etype != "registered":
            rows = first.teacher_week if role == "teacher" else first.staff_week
            if (monday.date(), user) in rows:
                found[index] = "week already counted"
    return found
