"""How often and when people use the messenger: rates per kind of day, hours of the day, and the
random draws the generator needs (standard library ``random`` only)."""

from __future__ import annotations

import math
import random
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from stream.tools.generate.calendar import DayKind

HOUR_MS: Final = 3_600_000

#: Relative weight of each hour 0..23 (Moscow), on school days and on other days.
_HOURS: Final[dict[str, tuple[tuple[float, ...], tuple[float, ...]]]] = {
    # lessons and breaks in the morning, homework and parents' questions in the evening
    "teacher": (
        (0.1, 0, 0, 0, 0, 0.1, 0.5, 3, 8, 9, 9, 9, 8, 8, 7, 6, 5, 4, 4, 5, 5, 4, 2, 0.6),
        (0.2, 0.1, 0, 0, 0, 0, 0.1, 0.5, 1.5, 3, 4, 5, 5, 5, 4, 4, 4, 4, 5, 6, 6, 5, 3, 1),
    ),
    "student": (
        (1, 0.3, 0.1, 0, 0, 0, 0.2, 2, 3, 2.5, 3, 3, 3, 3.5, 5, 7, 8, 8, 9, 10, 10, 9, 6, 3),
        (2, 1, 0.3, 0.1, 0, 0, 0.1, 0.3, 1, 2, 4, 6, 7, 8, 8, 8, 8, 8, 9, 10, 10, 9, 6, 4),
    ),
    "parent": (
        (0.2, 0, 0, 0, 0, 0.2, 2, 6, 5, 3, 2, 2, 3, 2, 2, 2, 3, 4, 6, 8, 9, 7, 3, 1),
        (0.3, 0.1, 0, 0, 0, 0, 0.3, 1, 2, 4, 5, 5, 5, 5, 4, 4, 4, 5, 6, 7, 7, 5, 3, 1),
    ),
    "staff": (
        (0, 0, 0, 0, 0, 0, 0, 0.5, 4, 9, 10, 10, 8, 6, 9, 10, 9, 7, 3, 1, 0.5, 0.2, 0, 0),
        (0, 0, 0, 0, 0, 0, 0, 0, 0.5, 1, 2, 2, 2, 2, 2, 2, 1.5, 1, 1, 1, 0.5, 0.2, 0, 0),
    ),
    "registration": (
        (0.2, 0.1, 0, 0, 0, 0, 0.3, 2, 5, 7, 8, 8, 7, 7, 7, 7, 7, 7, 7, 8, 8, 6, 3, 1),
        (0.3, 0.1, 0, 0, 0, 0, 0.2, 0.5, 2, 4, 5, 6, 6, 6, 5, 5, 5, 5, 6, 7, 7, 5, 3, 1),
    ),
}

#: Activity on a kind of day relative to a school day.
DAY_FACTOR: Final[dict[str, dict[DayKind, float]]] = {
    "teacher": {"school": 1.0, "weekend": 0.22, "vacation": 0.35, "holiday": 0.12},
    "student": {"school": 1.0, "weekend": 0.65, "vacation": 0.55, "holiday": 0.45},
    "parent": {"school": 1.0, "weekend": 0.45, "vacation": 0.4, "holiday": 0.3},
    "staff": {"school": 1.0, "weekend": 0.05, "vacation": 0.8, "holiday": 0.03},
    "registration": {"school": 1.0, "weekend": 0.35, "vacation": 0.5, "holiday": 0.25},
}


class HourProfile:
    """Draws an instant within a day (ms after midnight) by the hour weights of a role."""

    __slots__ = ("_cum", "_total")

    def __init__(self, weights: tuple[float, ...]) -> None:
        self._cum = list(accumulate(weights))
        self._total = self._cum[-1]

    def offset_ms(self, rng: random.Random) -> int:
        hour = bisect(self._cum, rng.random() * self._total)
        return min(hour, 23) * HOUR_MS + int(rng.random() * HOUR_MS)


@dataclass(frozen=True)
class Clock:
    """The hour profiles of every role, for school days and other days."""

    school: dict[str, HourProfile]
    other: dict[str, HourProfile]

    @classmethod
    def default(cls) -> Clock:
        return cls(
            {role: HourProfile(w[0]) for role, w in _HOURS.items()},
            {role: HourProfile(w[1]) for role, w in _HOURS.items()},
        )

    def profile(self, role: str, kind: DayKind) -> HourProfile:
        return (self.school if kind == "school" else self.other)[role]


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: by inversion for small means, a rounded normal for large ones."""
    if mean <= 0:
        return 0
    if mean > 40:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def weighted_index(rng: random.Random, cum: list[float]) -> int:
    """An index drawn by the cumulative weights ``cum``."""
    return min(bisect(cum, rng.random() * cum[-1]), len(cum) - 1)


#: Engagement levels of a registered teacher. Unregistered teachers never act.
DORMANT, LIGHT, REGULAR, HEAVY = 0, 1, 2, 3
UNREGISTERED: Final = 255


@dataclass(frozen=True)
class Rhythm:
    """Rates of one profile. Sessions are per person and school day; other days scale them by
    ``DAY_FACTOR``. A session is a few minutes of messages, sometimes a call or a new chat."""

    #: chance of a session on a school day, by teacher level (dormant, light, regular, heavy)
    teacher_session: tuple[float, float, float, float] = (0.0, 0.05, 0.13, 0.75)
    student_session: float = 0.12
    parent_session: float = 0.06
    staff_session: float = 0.5
    #: share of registrations that happened "before" the period: put in its first week
    backlog: float = 0.8
    #: an active teacher's first group chat and the three group messages that make the teacher
    #: active fall on three days within a week plus this many days (mean) after the registration,
    #: so that becoming active does not by itself make a week's b
    activation_days: float = 21.0
    #: regular and light teachers per registered teacher at a weekly b of 6.5 % (scaled with b)
    regular_at_seed_b: float = 0.32
    light: float = 0.35


RHYTHMS: Final = {
    "small": Rhythm(),
    "orel": Rhythm(),
    # thin on purpose: a load test of ~1.1 M teachers at about 4 events per teacher and week
    "federal": Rhythm(student_session=0.022, parent_session=0.014, teacher_session=(0.0, 0.04, 0.1, 0.6)),
}
