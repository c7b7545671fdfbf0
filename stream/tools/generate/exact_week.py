"""The last generated week of a region whose weekly b is fixed (the seed's region): exactly
``last_week_b`` registered teachers write >= 3 group-chat messages in it, whatever the calendar
(in a holiday week as in a school week), every other teacher at most 2.

Who: every teacher whose planned activation (first group chat and the three messages that make
it active, ``registry._plan_activation``) puts 3 group messages into the week, then a weighted
draw among the teachers registered before the week (heavy users likelier, dormant ones never).
The events keep the rest: a chosen teacher still short of 3 on a drawn day of the week writes
the missing messages that day; another teacher's group messages of the week beyond 2 (less the
activation messages planned in the week, which are never moved) go to personal chats instead.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate

from stream.tools.generate.calendar import Period, day_kind
from stream.tools.generate.people import RegionPeople
from stream.tools.generate.rhythm import DAY_FACTOR, HEAVY, LIGHT, REGULAR, weighted_index

B_MESSAGES = 3  # group messages in the week that make a teacher count in b
#: how likely each level is chosen, relative to a light user
LEVEL_WEIGHTS = {HEAVY: 40.0, REGULAR: 4.0, LIGHT: 1.0}


class ExactWeekError(ValueError):
    """The week's b cannot be met (more teachers must reach it than it allows, or too few can)."""


@dataclass
class ExactWeek:
    first_day: int  # index of the week's Monday in the period
    chosen: frozenset[int]  # the teachers who reach b
    #: per teacher not chosen: group messages of the week planned by its activation
    reserved: Counter[int] = field(default_factory=Counter)
    #: day -> chosen teachers to bring up to 3 group messages that day
    top_up: dict[int, list[int]] = field(default_factory=dict)
    #: group messages written in the week so far, per teacher
    written: Counter[int] = field(default_factory=Counter)

    def in_week(self, day: int) -> bool:
        return day >= self.first_day

    def allows_group_message(self, teacher: int) -> bool:
        """Whether a session's group message of this week may stay in a group chat."""
        if teacher in self.chosen:
            return True
        return self.written[teacher] + self.reserved[teacher] < B_MESSAGES - 1

    def note(self, teacher: int, *, activation: bool) -> None:
        """A group message of the week was written (activation messages of a teacher not chosen
        are already counted in ``reserved``)."""
        if teacher in self.chosen or not activation:
            self.written[teacher] += 1

    def missing(self, teacher: int) -> int:
        return max(0, B_MESSAGES - self.written[teacher])


def plan_exact_week(people: RegionPeople, period: Period, seed: int) -> ExactWeek | None:
    """The plan of the last week, or None when the region's b is not fixed."""
    target = people.last_week_b
    if target is None:
        return None
    first_day = period.n_days - 7
    planned: Counter[int] = Counter()
    for day, entries in people.first_chats.items():
        if day >= first_day:
            planned.update({index: messages for index, messages in entries})
    for day, indices in people.due_messages.items():
        if day >= first_day:
            planned.update(indices)
    forced = {index for index, n in planned.items() if n >= B_MESSAGES}
    if len(forced) > target:
        raise ExactWeekError(f"{len(forced)} teachers reach b by their activation alone, more than {target}")
    week_start_ms = period.day_start_ms(first_day)
    pool = [
        index
        for index, level in enumerate(people.teacher_level)
        if level in LEVEL_WEIGHTS and 0 <= people.teacher_reg_ts[index] < week_start_ms and index not in forced
    ]
    rng = random.Random(f"{seed}/exact-week/{people.region_id}")
    need = target - len(forced)
    if need > len(pool):
        raise ExactWeekError(f"b of {target} needs {need} more teachers, {len(pool)} can")
    keyed = ((rng.random() ** (1 / LEVEL_WEIGHTS[people.teacher_level[i]]), i) for i in pool)
    drawn = sorted(i for _, i in heapq.nlargest(need, keyed))
    days = list(range(first_day, period.n_days))
    cum = list(accumulate(DAY_FACTOR["teacher"][day_kind(period.day(d))] for d in days))
    top_up: dict[int, list[int]] = {}
    for index in drawn:
        top_up.setdefault(days[weighted_index(rng, cum)], []).append(index)
    reserved = Counter({index: n for index, n in planned.items() if index not in forced})
    return ExactWeek(first_day, frozenset(forced) | frozenset(drawn), reserved, top_up)
