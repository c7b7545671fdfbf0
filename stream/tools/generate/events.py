"""One day of one region's events: registrations, first group chats, and the sessions of
teachers, students, parents and municipal staff, drawn at the rhythm's rates.

Who may do what keeps the plan's figures exact: only active teachers create group chats, the
first on a day drawn for it, and write the three group messages that make them active on that day
and on two later ones (``registry._plan_activation``); so no other teacher and no inactive school
ever reaches "active" (other teachers write in the school's existing chats and in personal
chats). Likewise only an active municipality's registered staff create its group chat and write
in it. Where the last week's b is fixed, ``exact_week`` says who reaches it. Everyone acts only
after registering. Every event falls inside its day, so days written in order are in time order.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_left

from stream.tools.generate.calendar import DayKind, Period, day_kind
from stream.tools.generate.exact_week import plan_exact_week
from stream.tools.generate.people import RegionPeople, SchoolPeople, StaffAccount
from stream.tools.generate.rhythm import DAY_FACTOR, HEAVY, LIGHT, REGULAR, Clock, Rhythm, poisson
from stream.tools.generate.writer import Event

MINUTE_MS = 60_000
#: per teacher level: group messages, personal messages per session; chances of a call, of a new
#: group chat (active teachers only), of a new personal chat, of a post in the school's channel
_GROUP = {LIGHT: (0, 0, 0, 0, 1, 1), REGULAR: (0, 0, 1, 1, 1, 2), HEAVY: (1, 2, 2, 3, 4, 5, 6)}
_PERSONAL = {LIGHT: (0, 1, 1, 2, 3), REGULAR: (0, 1, 2, 3, 4), HEAVY: (0, 1, 2, 3, 4, 5, 6)}
_CALL = {LIGHT: 0.03, REGULAR: 0.08, HEAVY: 0.2}
_NEW_GROUP = {LIGHT: 0.01, REGULAR: 0.02, HEAVY: 0.04}
_NEW_PERSONAL = 0.04
_CHANNEL_POST = {LIGHT: 0.0, REGULAR: 0.02, HEAVY: 0.06}
_PERSONAL_CHATS = 20  # distinct personal chats a person writes in


def _after(reg_ts: int, ts: int, end: int) -> int:
    """``ts``, moved after the registration and back from midnight so that a few messages fit
    (the day is the one of ``ts``; the registration is before ``end``)."""
    ts = max(reg_ts + MINUTE_MS, ts)
    if ts > end - 30 * MINUTE_MS:
        ts = max(reg_ts + 1000, end - 30 * MINUTE_MS)
    return min(ts, end - 1)


class RegionDays:
    """The events of one region, day after day (call ``day`` with 0, 1, 2, … in order)."""

    def __init__(self, people: RegionPeople, period: Period, rhythm: Rhythm, seed: int) -> None:
        self.people = people
        self.period = period
        self.rhythm = rhythm
        self.clock = Clock.default()
        self.rng = random.Random(f"{seed}/events/{people.region_id}")
        #: registered teachers (by level) who may act: registered before the current day
        self.pools = {level: array("i") for level in (LIGHT, REGULAR, HEAVY)}
        self.calls = 0
        self.exact = plan_exact_week(people, period, seed)
        self.in_exact_week = False

    def day(self, d: int, out: list[Event]) -> None:
        start, end = self.period.day_start_ms(d), self.period.day_start_ms(d + 1)
        kind = day_kind(self.period.day(d))
        people = self.people
        self.in_exact_week = self.exact is not None and self.exact.in_week(d)
        for ts, role, user in people.org_regs.get(d, ()):
            out.append((ts, "registered", user, role, "self", None))
        registering = people.teacher_regs.get(d, array("i"))
        for index in registering:
            out.append((people.teacher_reg_ts[index], "registered", people.teacher_id(index), "teacher", "self", None))
        for index, messages in people.first_chats.get(d, ()):
            self._first_group_chat(index, messages, start, end, kind, out)
        profile = self.clock.profile("teacher", kind)
        for index in people.due_messages.get(d, ()):
            teacher = people.teacher_id(index)
            chat = f"c{teacher}-{self.rng.randrange(people.teacher_chats[index]) + 1}"
            out.append((start + profile.offset_ms(self.rng), "message_sent", teacher, "teacher", chat, "group"))
            if self.exact is not None and self.in_exact_week:
                self.exact.note(index, activation=True)
        self._teachers(start, end, kind, out)
        if self.exact is not None:
            for index in self.exact.top_up.get(d, ()):
                self._top_up(index, start, end, kind, out)
        for school in people.schools:
            self._school(school, start, end, kind, out)
        for account in people.staff:
            self._staff(account, d, start, end, kind, out)
        for index in registering:  # they act from tomorrow on
            level = people.teacher_level[index]
            if level in self.pools:
                self.pools[level].append(index)

    # teachers

    def _first_group_chat(
        self, index: int, messages: int, start: int, end: int, kind: DayKind, out: list[Event]
    ) -> None:
        people, rng = self.people, self.rng
        ts = _after(people.teacher_reg_ts[index], start + self.clock.profile("teacher", kind).offset_ms(rng), end)
        teacher = people.teacher_id(index)
        people.teacher_chats[index] += 1
        chat = f"c{teacher}-{people.teacher_chats[index]}"
        out.append((ts, "chat_created", teacher, "teacher", chat, "group"))
        for _ in range(messages):
            ts = min(end - 1, ts + rng.randrange(MINUTE_MS // 2, 20 * MINUTE_MS))
            out.append((ts, "message_sent", teacher, "teacher", chat, "group"))
            if self.exact is not None and self.in_exact_week:
                self.exact.note(index, activation=True)

    def _top_up(self, index: int, start: int, end: int, kind: DayKind, out: list[Event]) -> None:
        """A teacher chosen for the exact week's b writes the group messages it still lacks."""
        assert self.exact is not None
        missing = self.exact.missing(index)
        if not missing:
            return
        people, rng = self.people, self.rng
        teacher = people.teacher_id(index)
        school = people.schools[people.teacher_school[index]]
        ts = _after(people.teacher_reg_ts[index], start + self.clock.profile("teacher", kind).offset_ms(rng), end)
        for _ in range(missing):
            own = people.teacher_chats[index]
            chat = (
                f"c{teacher}-{rng.randrange(own) + 1}" if own else f"c{school.school_id}-{rng.randrange(school.chats)}"
            )
            out.append((ts, "message_sent", teacher, "teacher", chat, "group"))
            self.exact.note(index, activation=False)
            ts = min(end - 1, ts + rng.randrange(MINUTE_MS // 2, 10 * MINUTE_MS))

    def _teachers(self, start: int, end: int, kind: DayKind, out: list[Event]) -> None:
        factor = DAY_FACTOR["teacher"][kind]
        rng = self.rng
        for level, pool in self.pools.items():
            k = min(len(pool), poisson(rng, len(pool) * self.rhythm.teacher_session[level] * factor))
            for i in rng.sample(range(len(pool)), k):
                self._teacher_session(pool[i], level, start, end, kind, out)

    def _teacher_session(self, index: int, level: int, start: int, end: int, kind: DayKind, out: list[Event]) -> None:
        """A few minutes of a teacher's messages, in order; what would run past midnight is left out."""
        people, rng = self.people, self.rng
        random = rng.random
        teacher = people.teacher_id(index)
        school = people.schools[people.teacher_school[index]]
        own = people.teacher_chats[index]
        items: list[tuple[str, str, str]] = []  # (type, chat or call id, chat kind)
        if own and random() < _NEW_GROUP[level]:
            items.append(("chat_created", f"c{teacher}-{own + 1}", "group"))
        chats = own + len(items)
        if random() < _NEW_PERSONAL:
            items.append(("chat_created", f"d{teacher}-{int(random() * _PERSONAL_CHATS)}", "personal"))
        group, personal = rng.choice(_GROUP[level]), rng.choice(_PERSONAL[level])
        kinds = ["group"] * group + ["personal"] * (personal or (0 if group else 1))
        rng.shuffle(kinds)
        for chat_kind in kinds:
            if chat_kind == "personal":
                chat = f"d{teacher}-{int(random() * _PERSONAL_CHATS)}"
            elif chats and random() < 0.6:
                chat = f"c{teacher}-{int(random() * chats) + 1}"
            else:
                chat = f"c{school.school_id}-{int(random() * school.chats)}"
            items.append(("message_sent", chat, chat_kind))
        if random() < _CHANNEL_POST[level]:
            items.append(("message_sent", f"ch{school.school_id}", "channel"))
        if random() < _CALL[level]:
            items.append(("call", "", "group" if random() < 0.3 else "personal"))
        ts = start + self.clock.profile("teacher", kind).offset_ms(rng)
        exact = self.exact if self.in_exact_week else None
        for etype, ref, chat_kind in items:
            ts += 20_000 + int(random() * 460_000)
            if ts >= end:
                break
            if exact is not None and etype == "message_sent" and chat_kind == "group":
                if exact.allows_group_message(index):
                    exact.note(index, activation=False)
                else:  # the exact week's b: this teacher writes it in a personal chat instead
                    ref, chat_kind = f"d{teacher}-{int(random() * _PERSONAL_CHATS)}", "personal"
            if etype == "call":
                self.calls += 1
                ref = f"k{people.region_id}-{self.calls}"
            elif etype == "chat_created" and chat_kind == "group":
                people.teacher_chats[index] = own + 1
            out.append((ts, etype, teacher, "teacher", ref, chat_kind))

    # students and parents

    def _school(self, school: SchoolPeople, start: int, end: int, kind: DayKind, out: list[Event]) -> None:
        people, rng = self.people, self.rng
        before = school.written
        today = bisect_left(school.reg_ts, end, lo=before)
        for pos in range(before, today):
            ts, number = school.reg_ts[pos], school.reg_student[pos]
            if school.reg_by_parent[pos]:
                parent_ts = ts - rng.randrange(MINUTE_MS, 30 * MINUTE_MS)  # the parent's account first
                if parent_ts < start:
                    parent_ts = start + (ts - start) // 2
                out.append((parent_ts, "registered", people.parent_id(number), "parent", "self", None))
                out.append((ts, "registered", people.student_id(number), "student", "parent", None))
            else:
                out.append((ts, "registered", people.student_id(number), "student", "self", None))
        if before:
            k = min(before, poisson(rng, before * self.rhythm.student_session * DAY_FACTOR["student"][kind]))
            profile = self.clock.profile("student", kind)
            for pos in rng.sample(range(before), k):
                user = people.student_id(school.reg_student[pos])
                self._chat_session(
                    user, "student", school, start + profile.offset_ms(rng), end, 1 + poisson(rng, 2.5), out
                )
        parents = school.parents
        if parents:
            k = min(len(parents), poisson(rng, len(parents) * self.rhythm.parent_session * DAY_FACTOR["parent"][kind]))
            profile = self.clock.profile("parent", kind)
            for i in rng.sample(range(len(parents)), k):
                user = people.parent_id(school.reg_student[parents[i]])
                self._chat_session(
                    user, "parent", school, start + profile.offset_ms(rng), end, 1 + poisson(rng, 1.0), out
                )
        for pos in range(before, today):
            if school.reg_by_parent[pos]:
                parents.append(pos)
        school.written = today

    def _chat_session(
        self, user: str, role: str, school: SchoolPeople, ts: int, end: int, messages: int, out: list[Event]
    ) -> None:
        # the hottest loop of the generator (most events are students'): ``random()`` scaled
        # rather than ``randrange``, which costs several times more
        random = self.rng.random
        if random() < 0.05:
            out.append((ts, "chat_created", user, role, f"d{user}-{int(random() * _PERSONAL_CHATS)}", "personal"))
        for _ in range(messages):
            ts += 5_000 + int(random() * 295_000)
            if ts >= end:  # the rest of the session would be tomorrow: left out
                return
            if random() < 0.55:
                out.append(
                    (ts, "message_sent", user, role, f"c{school.school_id}-{int(random() * school.chats)}", "group")
                )
            else:
                out.append((ts, "message_sent", user, role, f"d{user}-{int(random() * _PERSONAL_CHATS)}", "personal"))
        if random() < 0.03 and ts + MINUTE_MS < end:
            self.calls += 1
            out.append((ts + MINUTE_MS, "call", user, role, f"k{self.people.region_id}-{self.calls}", "personal"))

    # municipal staff

    def _staff(self, account: StaffAccount, d: int, start: int, end: int, kind: DayKind, out: list[Event]) -> None:
        """A registered staff account: its part in the authority's activation on its day, else now
        and then a few messages, in the authority's group chat once it exists."""
        rng = self.rng
        user = account.user_id
        profile = self.clock.profile("staff", kind)
        if account.first_day == d:
            ts = _after(account.reg_ts, start + profile.offset_ms(rng), end)
            if account.creates:
                out.append((ts, "chat_created", user, "staff", account.chat, "group"))
            for _ in range(account.first_messages):
                ts = min(end - 1, ts + rng.randrange(MINUTE_MS, 30 * MINUTE_MS))
                out.append((ts, "message_sent", user, "staff", account.chat, "group"))
            return
        if account.reg_day >= d or rng.random() >= self.rhythm.staff_session * DAY_FACTOR["staff"][kind]:
            return
        group = account.chat_from_day is not None and account.chat_from_day < d
        ts = start + profile.offset_ms(rng)
        for _ in range(1 + poisson(rng, 2.0)):
            ts += rng.randrange(MINUTE_MS, 40 * MINUTE_MS)
            if ts >= end:
                return
            if group and rng.random() < 0.6:  # only an active authority has a group chat
                chat, chat_kind = account.chat, "group"
            elif rng.random() < 0.2:
                chat, chat_kind = f"ch{user}", "channel"
            else:
                chat, chat_kind = f"d{user}-{rng.randrange(_PERSONAL_CHATS)}", "personal"
            out.append((ts, "message_sent", user, "staff", chat, chat_kind))
