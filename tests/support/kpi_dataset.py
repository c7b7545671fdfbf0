"""A small hand-built registry and event set whose ``kpi_unit_week`` rows can be worked out by
hand (``tests/unit/test_kpi_oracle.py`` does) and then compared with the pipeline.

Four ISO weeks, Monday 00:00 Europe/Moscow (UTC+3 all year):
W1 = 2026-09-07, W2 = 2026-09-14, W3 = 2026-09-21, W4 = 2026-09-28 (ends 2026-10-05 00:00 MSK).
Lines are in time order, every ``event_id`` is unique and every line is valid at ``NOW_MS``, so
``tests.support.oracle.expected`` accepts all of them (other roles' activity is ``ignored``).

Registry: regions r1 (m1, m2, m5) and r2 (m3, m4, m6); m5 and m6 have no schools.

| unit | schools / teachers | case |
|---|---|---|
| m1 | s1, s2 | registered W1; its staff a11 active from W1 (a12 never registers) |
| m2 | s3 | registered W2 (Monday 08:30); active from W2 only by two staff together: a21 (registered W1) created |
|  |  | a group chat and wrote 1 group message in W1, a22 (registered W2) wrote 2 in W2 |
| m3 | s4, s5, s6 | registered W3; its staff a31 acted in W2 but registers only in W4: no staff registered in W3 |
|  |  | («Отсутствуют регистрации»), active from W4, though none of its teachers is active |
| m4 | s7, s8 | never registered, though its school s7 is registered and active, and its staff a41 registered |
|  |  | and active |
| m5 | — | registered W1, staff a51 registered W1: no activity in W1, then only personal and channel chats, |
|  |  | personal messages, a call and 2 group messages in others' chats: never active |
| m6 | — | registered W1; its staff a61 never registers, though active in W1: «Отсутствуют регистрации» |
| s1 | t01 t02 t04 t12 | active from W1 (t01) |
| s2 | t02 t03 t13 | W1: not active although its unregistered t13 created a chat and wrote 3 messages; active from W2 |
| s3 | t03 t05 t14 | registered W2 |
| s4 | t06 t08 t15 | registered, never active: no group chat, only group messages |
| s5 | t09 t10 | active from W2 only together: t09 created 1 chat + 1 message, t10 2 messages; neither is active |
| s6 | t07 t11 t16 | registered W2; never active (t11's messages were sent as `staff`) |
| s7 | t17 t18 | registered school in an unregistered municipality, active from W1 |
| s8 | t19 t20 | never registered; its t19 is active from W3, the school is not |
| s99 | — | `school` registration of a school missing from the registry: never counts |

Teachers (registration week in brackets):
- t01 (W1): group chat + 3 group messages W1 (a, b, active); 6 group + 4 personal messages W2 (b, c);
  a group call W3 (d).
- t02 (W1), schools s1 and s2 of m1 (counted once in m1, r1): 2 group messages W1, a group chat + 1 group
  message W2: active from W2 by cumulative messages, but never b.
- t03 (W1), schools s2 (m1) and s3 (m2), two municipalities of r1: a personal call W1 (d); group chat + 3 group
  messages W2.
- t04 (W3): group chat + 4 group messages in W1, registered in W3: counts (a, active, not b) from W3 only.
- t05 (W1): group chat W1; group messages on Fri W1, at 2026-09-13 23:59:59.999 (W1), at 2026-09-14
  00:00:00.000 (W2) and two more in W2: W1 has 2 (not b, not active), W2 has 3 (b, active).
- t06 (W1): personal message at 2026-09-13 23:59:59.999 (W1); in W2 exactly 10 group + personal messages, one at
  2026-09-14 00:00:00.000 and one at 2026-09-20 23:59:59.999 (c), plus 3 channel messages; a personal message at
  2026-09-21 00:00:00.000 (W3). Never a.
- t07 registered at exactly 2026-09-14 00:00:00.000 (W2, not W1): personal and channel chats, 9 personal and
  5 channel messages, a personal call, all W2: d, not c, not a.
- t08 (W1): channel and personal chats, 3 channel messages W1; 3 group messages W3: b in W3 but no group chat, so
  never a or active.
- t09, t10 (W1): see s5.
- t11 (W1): group chat W1 (a), 3 group messages W1 sent with role `staff` (never count), 1 as teacher W2.
- t12: registered twice, W1 and W3 (the earliest counts); no activity.
- t13: never registered, active W1: never counts.
- t14: registered W4 (2026-10-01); no activity.
- t15: registered at 2026-09-13 23:59:59.999 (W1); a group call W2 (d).
- t16, t20: never registered, no activity.
- t17 (W1): group chat + 3 group messages W1.
- t18 (W2): a personal call W4 (2026-10-02).
- t19 (W1): group chat + 3 group messages W3.
- tx99: registered teacher missing from teachers.csv, active W1 with calls and personal messages: never counts.

Other roles, never counted: student u01 (group chat + 3 group messages W1), parent p01 (personal messages and a
call W2; also registered), staff st01 (group chat + 3 group messages W2; not in staff.csv), and t11's `staff`
messages (t11 is no staff account).

Students (15; registration week, by): s1: u01 (W1 self), u02 (W1 parent, again W2 self: parent counts), u03
(never); s2: u04 (W2 parent), u05 (W3 self); s3: u06 (W1 parent), u07 (never); s4: u08 (W1 self), u09 (W4
parent); s5: u10 (never); s6: u11 (W2 self), u12 (W2 parent); s7: u13 (W1 self), u14 (never); s8: u15 (W3
parent). u99: a student registration missing from students.csv.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path

from tests.support.eventgen import MSK

W1, W2, W3, W4 = date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 21), date(2026, 9, 28)
WEEKS = (W1, W2, W3, W4)
#: 2026-10-05 00:00 MSK: every event is in the past, none is "future"
NOW_MS = 1_791_147_600_000
MINUTE_MS = 60_000

REGISTRY: dict[str, list[list[str]]] = {
    "regions": [["region_id", "name"], ["r1", "Орловская область"], ["r2", "Курская область"]],
    "municipalities": [
        ["municipality_id", "region_id", "name"],
        ["m1", "r1", "г. Орёл"],
        ["m2", "r1", "Мценский район"],
        ["m3", "r2", "г. Курск"],
        ["m4", "r2", "Льговский район"],
        ["m5", "r1", "Болховский район"],
        ["m6", "r2", "Курчатовский район"],
    ],
    "schools": [
        ["school_id", "municipality_id", "name"],
        ["s1", "m1", "Школа № 1"],
        ["s2", "m1", "Гимназия № 2"],
        ["s3", "m2", "Лицей № 3, Мценск"],
        ["s4", "m3", "Школа № 4"],
        ["s5", "m3", "Школа № 5"],
        ["s6", "m3", "Школа № 6"],
        ["s7", "m4", "Школа № 7"],
        ["s8", "m4", "Школа № 8, с. Иваново"],
    ],
    "teachers": [
        ["teacher_id", "school_id"],
        ["t01", "s1"],
        ["t02", "s1"],
        ["t02", "s2"],
        ["t04", "s1"],
        ["t12", "s1"],
        ["t03", "s2"],
        ["t13", "s2"],
        ["t03", "s3"],
        ["t05", "s3"],
        ["t14", "s3"],
        ["t06", "s4"],
        ["t08", "s4"],
        ["t15", "s4"],
        ["t09", "s5"],
        ["t10", "s5"],
        ["t07", "s6"],
        ["t11", "s6"],
        ["t16", "s6"],
        ["t17", "s7"],
        ["t18", "s7"],
        ["t19", "s8"],
        ["t20", "s8"],
    ],
    "students": [
        ["student_id", "school_id", "birth_date"],
        ["u01", "s1", "2010-03-14"],
        ["u02", "s1", "2015-06-01"],
        ["u03", "s1", "2011-11-30"],
        ["u04", "s2", "2016-01-20"],
        ["u05", "s2", "2009-09-09"],
        ["u06", "s3", "2014-12-31"],
        ["u07", "s3", "2012-02-29"],
        ["u08", "s4", "2010-07-07"],
        ["u09", "s4", "2017-04-15"],
        ["u10", "s5", "2013-05-05"],
        ["u11", "s6", "2011-08-18"],
        ["u12", "s6", "2016-10-10"],
        ["u13", "s7", "2009-01-25"],
        ["u14", "s7", "2012-12-12"],
        ["u15", "s8", "2015-03-03"],
    ],
    "staff": [
        ["staff_id", "municipality_id"],
        ["a11", "m1"],
        ["a12", "m1"],
        ["a21", "m2"],
        ["a22", "m2"],
        ["a31", "m3"],
        ["a41", "m4"],
        ["a51", "m5"],
        ["a61", "m6"],
    ],
}


def at(local: str) -> int:
    """Epoch ms of a Moscow wall-clock time, e.g. ``at("2026-09-13 23:59:59.999")``."""
    return int(datetime.fromisoformat(local).replace(tzinfo=MSK).timestamp() * 1000)


class _Events:
    def __init__(self) -> None:
        self.timed: list[tuple[int, int, dict[str, object]]] = []

    def _add(self, ts: int, obj: dict[str, object]) -> None:
        seq = len(self.timed) + 1
        event = {"schema_version": 1, "type": obj.pop("type"), "event_id": f"kpi-{seq:04d}", "ts": ts} | obj
        self.timed.append((ts, seq, event))

    def registered(self, when: str, user: str, role: str = "teacher", by: str = "self") -> None:
        self._add(at(when), {"type": "registered", "user_id": user, "role": role, "registered_by": by})

    def chat(self, when: str, user: str, kind: str, role: str = "teacher") -> None:
        ts = at(when)
        chat_id = f"chat-{user}-{ts}"
        self._add(ts, {"type": "chat_created", "user_id": user, "role": role, "chat_id": chat_id, "chat_kind": kind})

    def messages(self, when: str, user: str, kind: str, n: int = 1, role: str = "teacher") -> None:
        """``n`` messages one minute apart from ``when``."""
        for i in range(n):
            ts = at(when) + i * MINUTE_MS
            obj = {"type": "message_sent", "user_id": user, "role": role, "chat_id": f"chat-{kind}-{user}"}
            self._add(ts, obj | {"chat_kind": kind})

    def call(self, when: str, user: str, kind: str, role: str = "teacher") -> None:
        ts = at(when)
        self._add(
            ts, {"type": "call", "user_id": user, "role": role, "call_id": f"call-{user}-{ts}", "chat_kind": kind}
        )

    def lines(self) -> list[bytes]:
        ordered = sorted(self.timed, key=lambda item: (item[0], item[1]))
        return [json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() for _, _, obj in ordered]


def _events() -> _Events:
    e = _Events()
    # organisations
    e.registered("2026-09-07 08:30", "m1", "municipality")
    e.registered("2026-09-14 08:30", "m2", "municipality")
    e.registered("2026-09-22 08:30", "m3", "municipality")  # late: after its teachers' activity
    e.registered("2026-09-07 08:40", "m5", "municipality")
    e.registered("2026-09-08 08:30", "m6", "municipality")
    e.registered("2026-09-07 09:30", "s1", "school")
    e.registered("2026-09-08 09:30", "s2", "school")
    e.registered("2026-09-15 09:30", "s3", "school")
    e.registered("2026-09-07 09:40", "s4", "school")
    e.registered("2026-09-09 09:30", "s5", "school")
    e.registered("2026-09-16 09:30", "s6", "school")
    e.registered("2026-09-10 09:30", "s7", "school")
    e.registered("2026-09-08 09:45", "s99", "school")  # not in schools.csv

    # teachers' registrations
    e.registered("2026-09-07 09:00", "t01")
    e.registered("2026-09-07 10:00", "t02")
    e.registered("2026-09-08 09:00", "t03")
    e.registered("2026-09-23 10:00", "t04")  # after its activity in W1
    e.registered("2026-09-07 08:00", "t05")
    e.registered("2026-09-07 11:00", "t06")
    e.registered("2026-09-14 00:00:00.000", "t07")  # Monday 00:00: W2
    e.registered("2026-09-08 11:00", "t08")
    e.registered("2026-09-08 12:00", "t09")
    e.registered("2026-09-09 12:00", "t10")
    e.registered("2026-09-07 12:00", "t11")
    e.registered("2026-09-09 09:00", "t12")
    e.registered("2026-09-22 09:00", "t12")  # again: the earliest counts
    e.registered("2026-10-01 10:00", "t14")
    e.registered("2026-09-13 23:59:59.999", "t15")  # 1 ms before Monday: W1
    e.registered("2026-09-07 13:00", "t17")
    e.registered("2026-09-16 09:00", "t18")
    e.registered("2026-09-10 09:00", "t19")
    e.registered("2026-09-07 14:00", "tx99")  # not in teachers.csv

    # students and a parent
    e.registered("2026-09-07 18:00", "u01", "student", "self")
    e.registered("2026-09-08 18:00", "u02", "student", "parent")
    e.registered("2026-09-15 18:30", "u02", "student", "self")  # again: the earliest (parent) counts
    e.registered("2026-09-16 18:00", "u04", "student", "parent")
    e.registered("2026-09-23 18:00", "u05", "student", "self")
    e.registered("2026-09-09 18:00", "u06", "student", "parent")
    e.registered("2026-09-10 18:00", "u08", "student", "self")
    e.registered("2026-09-29 18:00", "u09", "student", "parent")
    e.registered("2026-09-17 18:00", "u11", "student", "self")
    e.registered("2026-09-18 18:00", "u12", "student", "parent")
    e.registered("2026-09-11 18:00", "u13", "student", "self")
    e.registered("2026-09-24 18:00", "u15", "student", "parent")
    e.registered("2026-09-08 19:00", "u99", "student", "self")  # not in students.csv
    e.registered("2026-09-07 19:00", "p01", "parent", "self")

    # t01
    e.chat("2026-09-08 10:00", "t01", "group")
    e.messages("2026-09-08 10:05", "t01", "group", 3)
    e.messages("2026-09-15 11:00", "t01", "group", 6)
    e.messages("2026-09-15 15:00", "t01", "personal", 4)
    e.call("2026-09-22 12:00", "t01", "group")
    # t02: 3 group messages only across W1 and W2
    e.messages("2026-09-09 10:00", "t02", "group", 2)
    e.chat("2026-09-16 09:00", "t02", "group")
    e.messages("2026-09-16 09:10", "t02", "group", 1)
    # t03
    e.call("2026-09-10 10:00", "t03", "personal")
    e.chat("2026-09-17 10:00", "t03", "group")
    e.messages("2026-09-17 10:10", "t03", "group", 3)
    # t04: active in W1, registered in W3
    e.chat("2026-09-08 14:00", "t04", "group")
    e.messages("2026-09-08 14:10", "t04", "group", 4)
    # t05: group messages around Monday 2026-09-14 00:00
    e.chat("2026-09-11 09:00", "t05", "group")
    e.messages("2026-09-11 12:00", "t05", "group")
    e.messages("2026-09-13 23:59:59.999", "t05", "group")
    e.messages("2026-09-14 00:00:00.000", "t05", "group")
    e.messages("2026-09-15 10:00", "t05", "group")
    e.messages("2026-09-16 10:00", "t05", "group")
    # t06: exactly 10 chat messages in W2, counted between its two boundaries
    e.messages("2026-09-13 23:59:59.999", "t06", "personal")
    e.messages("2026-09-14 00:00:00.000", "t06", "personal")
    e.messages("2026-09-16 11:00", "t06", "group", 2)
    e.messages("2026-09-17 11:00", "t06", "personal", 6)
    e.messages("2026-09-18 11:00", "t06", "channel", 3)
    e.messages("2026-09-20 23:59:59.999", "t06", "personal")
    e.messages("2026-09-21 00:00:00.000", "t06", "personal")
    # t07: personal and channel chats and messages, a call
    e.chat("2026-09-15 12:00", "t07", "personal")
    e.chat("2026-09-15 12:30", "t07", "channel")
    e.messages("2026-09-16 12:00", "t07", "personal", 9)
    e.messages("2026-09-16 13:00", "t07", "channel", 5)
    e.call("2026-09-17 12:00", "t07", "personal")
    # t08: no group chat ever
    e.chat("2026-09-08 15:00", "t08", "channel")
    e.chat("2026-09-08 15:30", "t08", "personal")
    e.messages("2026-09-09 15:00", "t08", "channel", 3)
    e.messages("2026-09-23 15:00", "t08", "group", 3)
    # t09 + t10: school s5 active only together
    e.chat("2026-09-15 14:00", "t09", "group")
    e.messages("2026-09-15 14:10", "t09", "group", 1)
    e.messages("2026-09-16 14:00", "t10", "group", 2)
    # t11: its group messages are sent as staff
    e.chat("2026-09-09 16:00", "t11", "group")
    e.messages("2026-09-09 16:10", "t11", "group", 3, role="staff")
    e.messages("2026-09-15 16:00", "t11", "group", 1)
    # t13: never registered
    e.chat("2026-09-08 16:00", "t13", "group")
    e.messages("2026-09-08 16:10", "t13", "group", 3)
    # t15, t17, t18, t19
    e.call("2026-09-15 17:00", "t15", "group")
    e.chat("2026-09-10 11:00", "t17", "group")
    e.messages("2026-09-10 11:10", "t17", "group", 3)
    e.call("2026-10-02 10:00", "t18", "personal")
    e.chat("2026-09-24 11:00", "t19", "group")
    e.messages("2026-09-24 11:10", "t19", "group", 3)
    # tx99: not in the registry
    e.chat("2026-09-08 12:00", "tx99", "group")
    e.messages("2026-09-08 12:10", "tx99", "group", 5)
    e.messages("2026-09-09 12:00", "tx99", "personal", 10)
    e.call("2026-09-09 13:00", "tx99", "group")
    # other roles
    e.chat("2026-09-08 17:00", "u01", "group", role="student")
    e.messages("2026-09-08 17:10", "u01", "group", 3, role="student")
    e.messages("2026-09-15 18:00", "p01", "personal", 5, role="parent")
    e.call("2026-09-15 19:00", "p01", "personal", role="parent")
    e.chat("2026-09-16 18:00", "st01", "group", role="staff")
    e.messages("2026-09-16 18:10", "st01", "group", 3, role="staff")
    # the staff of municipalities (staff.csv): a municipality is active when registered and its
    # registered staff together created a group chat and wrote 3 group messages up to W
    e.registered("2026-09-07 09:05", "a11", "staff")
    e.chat("2026-09-07 10:00", "a11", "group", role="staff")
    e.messages("2026-09-07 10:10", "a11", "group", 3, role="staff")  # m1: active from W1
    e.registered("2026-09-07 09:10", "a21", "staff")
    e.chat("2026-09-08 10:00", "a21", "group", role="staff")
    e.messages("2026-09-08 10:05", "a21", "group", 1, role="staff")
    e.registered("2026-09-14 09:00", "a22", "staff")
    e.messages("2026-09-15 10:10", "a22", "group", 2, role="staff")  # m2: active from W2, a21 + a22
    e.chat("2026-09-16 10:00", "a31", "group", role="staff")
    e.messages("2026-09-16 10:10", "a31", "group", 3, role="staff")  # m3: acts in W2 ...
    e.registered("2026-09-29 09:00", "a31", "staff")  # ... registers in W4
    e.registered("2026-09-07 11:30", "a41", "staff")
    e.chat("2026-09-08 11:00", "a41", "group", role="staff")
    e.messages("2026-09-08 11:10", "a41", "group", 5, role="staff")  # m4: never registered, never active
    e.registered("2026-09-07 12:30", "a51", "staff")
    e.chat("2026-09-15 12:00", "a51", "personal", role="staff")  # m5: personal and channel only
    e.messages("2026-09-15 12:10", "a51", "personal", 6, role="staff")
    e.call("2026-09-16 12:00", "a51", "personal", role="staff")
    e.chat("2026-09-22 12:00", "a51", "channel", role="staff")
    e.messages("2026-09-22 12:10", "a51", "channel", 4, role="staff")
    e.messages("2026-09-29 12:10", "a51", "group", 2, role="staff")  # in others' chats: no chat created
    e.chat("2026-09-09 13:00", "a61", "group", role="staff")
    e.messages("2026-09-09 13:10", "a61", "group", 3, role="staff")  # m6: a61 never registers
    return e


def build() -> tuple[dict[str, list[list[str]]], list[bytes]]:
    """(registry rows by file stem, header first; NDJSON event lines in time order)."""
    registry = {name: [list(row) for row in rows] for name, rows in REGISTRY.items()}
    return registry, _events().lines()


def write_registry(registry: dict[str, list[list[str]]], directory: Path) -> Path:
    """Write the rows as ``<stem>.csv`` files of the registry format into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in registry.items():
        with (directory / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(rows)
    return directory
