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


def _reject_reason(line: bytes, now_ms: int) -> str | dict | None:
    """The reason a line is malformed, or the parsed object."""
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


def expected(lines: list[bytes], now_ms: int) -> Expected:
    """Process the lines in order; a user's stream time is the newest accepted ts of that user."""
    out = Expected()
    stream_time: dict[str, datetime] = {}
    seen: set[tuple[str, str]] = set()
    rows: dict[tuple[str, date, str], list[int]] = {}
    for index, line in enumerate(lines):
        out.consumed += 1
        parsed = _reject_reason(line, now_ms)
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
        if newest is not None and week_end <= newest - LATENESS:
            out.rejected["late"] += 1
            out.rejected_lines[index] = "late"
            continue
        if newest is None or when > newest:
            stream_time[user] = when
        if (user, obj["event_id"]) in seen:
            out.duplicates += 1
            continue
        seen.add((user, obj["event_id"]))
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
