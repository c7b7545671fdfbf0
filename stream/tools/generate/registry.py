"""A planned region made concrete: schools, teachers and students as registry rows, and who of
them registers when, becomes active when, and how much they use the messenger
(``people.RegionPeople``).

Each municipality draws from its own generator, seeded by (seed, municipality id), so it comes
out the same whatever else is generated. The plan's counts are met exactly:
- active schools are drawn among the registered ones, bigger schools likelier; every active
  school gets an active teacher, and active teachers teach only in active schools (also their
  second school, if any), so an inactive school's registered teachers never create a group chat;
- the other registered teachers are drawn among the rest (teachers of registered schools likelier);
- students register with a propensity per school; under-14s are registered by a parent;
- a municipality's education authority has a few staff accounts (staff.csv): none of them
  registers unless the municipality is registered with registered staff; an active municipality's
  registered staff create its group chat and write the three group messages that make it active,
  sometimes split between two of them;
- where the plan fixes a of the last week (the seed's region), that many registered teachers
  beyond the active ones create one group chat and write at most 2 group messages ever: dormant
  teachers whose schools are all active or unregistered, so no school becomes active by them.
"""

from __future__ import annotations

import heapq
import random
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate

from stream.tools.generate.allocate import AllocationError, largest_remainder
from stream.tools.generate.calendar import Period, day_kind
from stream.tools.generate.people import RegionPeople, SchoolPeople, StaffAccount
from stream.tools.generate.plan import MunicipalityPlan, RegionPlan
from stream.tools.generate.profiles import PLACE_NAMES
from stream.tools.generate.rhythm import (
    DAY_FACTOR,
    DORMANT,
    HEAVY,
    LIGHT,
    REGULAR,
    UNREGISTERED,
    Clock,
    Rhythm,
    weighted_index,
)
from stream.tools.generate.writer import RegistryWriter

SECOND_SCHOOL = 0.03  # teachers who also teach in a second school of their municipality
GRADE_WEIGHTS = (1, 1, 1, 1, 1, 1, 1, 1, 1, 0.6, 0.55)  # fewer pupils in grades 10-11
PARENT_BELOW_AGE = 14  # the seed: under-14s are registered by a parent


class RegistrationTimes:
    """When people and organisations register: a share (the backlog) in the period's first week,
    the rest over the whole period; school days likelier, office hours and evenings."""

    def __init__(self, period: Period, rhythm: Rhythm, clock: Clock) -> None:
        self.period = period
        self.backlog = rhythm.backlog
        factor = DAY_FACTOR["registration"]
        self.kinds = [day_kind(period.day(i)) for i in range(period.n_days)]
        self.starts = [period.day_start_ms(i) for i in range(period.n_days + 1)]
        self.cum_all = list(accumulate(factor[k] for k in self.kinds))
        self.cum_first = self.cum_all[:7]
        self.clock = clock

    def draw(self, rng: random.Random, not_before: int = -1) -> tuple[int, int]:
        """(day index, ts ms) of a registration, not before instant ``not_before``."""
        cum = self.cum_first if rng.random() < self.backlog else self.cum_all
        day = weighted_index(rng, cum)
        ts = self.starts[day] + self.clock.profile("registration", self.kinds[day]).offset_ms(rng)
        if ts <= not_before:  # after something it depends on: a little later, same day if possible
            ts = min(not_before + rng.randrange(60_000, 6 * 3_600_000), self.starts[-1] - 1)
            day = bisect_right(self.starts, ts) - 1
        return day, ts


@dataclass(frozen=True)
class LevelMix:
    """Chances of each engagement level for an active and for another registered teacher,
    chosen so that the region's weekly b comes out near its target."""

    active: tuple[float, float, float]  # heavy, regular, light (never dormant: they made a chat)
    other: tuple[float, float, float]

    @classmethod
    def for_region(cls, plan: RegionPlan, rhythm: Rhythm) -> LevelMix:
        registered = max(1, plan.total("teachers_registered"))
        a = plan.total("teachers_active") / registered
        b = plan.b_share
        regular = min(0.45, rhythm.regular_at_seed_b * b / 0.065)
        # a heavy teacher reaches b nearly every school week, a regular one about one week in 30;
        # new active teachers add about 1 %
        heavy = max(0.0, b - 0.015 - 0.03 * (0.45 * a + (1 - a) * regular))
        heavy_active = min(0.85, heavy / a) if a > 0 else 0.0
        heavy_other = max(0.0, heavy - heavy_active * a) / max(1e-9, 1 - a)
        return cls(
            (heavy_active, (1 - heavy_active) * 0.5, (1 - heavy_active) * 0.5),
            (min(0.5, heavy_other), regular, rhythm.light),
        )

    def draw(self, rng: random.Random, active: bool) -> int:
        heavy, regular, light = self.active if active else self.other
        x = rng.random()
        if x < heavy:
            return HEAVY
        if x < heavy + regular:
            return REGULAR
        if x < heavy + regular + light:
            return LIGHT
        return DORMANT


@dataclass
class _Context:
    people: RegionPeople
    out: RegistryWriter
    times: RegistrationTimes
    mix: LevelMix
    rhythm: Rhythm
    period: Period
    school_year: date
    teacher_days: list[float]  # teachers' activity on each day of the period, relative to a school day
    next_student: int = 1
    #: (teacher, registration day) of the teachers who may create a group chat without making a
    #: school or themselves active: registered, dormant, all of their schools active or unregistered
    a_candidates: list[tuple[int, int]] = field(default_factory=list)


def build_region(plan: RegionPlan, period: Period, rhythm: Rhythm, seed: int, out: RegistryWriter) -> RegionPeople:
    """Write the region's registry rows and return its people for the events."""
    people = RegionPeople(plan.region_id)
    out.regions.writerow((plan.region_id, plan.name))
    out.count("regions")
    ctx = _Context(
        people,
        out,
        RegistrationTimes(period, rhythm, Clock.default()),
        LevelMix.for_region(plan, rhythm),
        rhythm,
        period,
        period.school_year_start(),
        [DAY_FACTOR["teacher"][day_kind(period.day(d))] for d in range(period.n_days)],
    )
    for m in plan.municipalities:
        out.municipalities.writerow((m.municipality_id, plan.region_id, m.name))
        out.count("municipalities")
        _municipality(m, random.Random(f"{seed}/{m.municipality_id}"), ctx)
    if plan.last_week_a is not None:
        _group_chats_without_activity(
            plan.last_week_a - plan.total("teachers_active"), random.Random(f"{seed}/a/{plan.region_id}"), ctx
        )
    people.last_week_b = plan.last_week_b
    return people


def _group_chats_without_activity(n: int, rng: random.Random, ctx: _Context) -> None:
    """``n`` of the candidates create a group chat some day after registering and write 0 to 2
    group messages in it, and nothing else: a grows by ``n``, nothing becomes active."""
    if n > len(ctx.a_candidates):
        raise AllocationError(f"{n} more teachers should have created a group chat, {len(ctx.a_candidates)} can")
    last_day = ctx.period.n_days - 1
    for index, reg_day in rng.sample(ctx.a_candidates, n):
        span = list(range(reg_day, last_day + 1))
        day = span[weighted_index(rng, list(accumulate(ctx.teacher_days[d] for d in span)))]
        ctx.people.first_chats.setdefault(day, []).append((index, rng.choice((0, 1, 2))))


def _municipality(m: MunicipalityPlan, rng: random.Random, ctx: _Context) -> None:
    people = ctx.people
    first_school = len(people.schools)
    sizes = largest_remainder([rng.lognormvariate(0, 0.55) for _ in range(m.schools)], m.teachers)
    ids = [f"{m.municipality_id}-{k + 1:03d}" for k in range(m.schools)]
    for school_id, name in zip(ids, _school_names(rng, m, sizes), strict=True):
        ctx.out.schools.writerow((school_id, m.municipality_id, name))
    ctx.out.count("schools", m.schools)

    order = list(range(m.schools))
    rng.shuffle(order)
    registered = sorted(order[: m.schools_registered])
    active = _weighted_sample(rng, registered, [sizes[s] for s in registered], m.schools_active)
    _make_room(sizes, active, m.teachers_active)
    active_set = frozenset(active)

    # teachers, numbered school by school
    base = len(people.teacher_reg_ts)
    school_of = [s for s, n in enumerate(sizes) for _ in range(n)]
    starts = [0, *accumulate(sizes)]
    chosen = [rng.randrange(starts[s], starts[s + 1]) for s in active]  # one active teacher per active school
    taken = frozenset(chosen)
    rest = [t for t, s in enumerate(school_of) if s in active_set and t not in taken]
    chosen += rng.sample(rest, m.teachers_active - len(chosen))
    active_teachers = frozenset(chosen)
    others = [t for t in range(m.teachers) if t not in active_teachers]
    registered_schools = frozenset(registered)
    weights = [1.0 if school_of[t] in registered_schools else 0.6 for t in others]
    registered_teachers = active_teachers | frozenset(
        _weighted_sample(rng, others, weights, m.teachers_registered - m.teachers_active)
    )
    for t in range(m.teachers):
        index = base + t
        school = school_of[t]
        people.teacher_school.append(first_school + school)
        people.teacher_chats.append(0)
        ctx.out.teachers.writerow((people.teacher_id(index), ids[school]))
        ctx.out.count("teachers")
        schools = [school]
        if m.schools > 1 and rng.random() < SECOND_SCHOOL:
            pool = [s for s in (active if t in active_teachers else range(m.schools)) if s != school]
            if pool:
                schools.append(rng.choice(pool))
                ctx.out.teachers.writerow((people.teacher_id(index), ids[schools[-1]]))
                ctx.out.count("teachers")
        if t not in registered_teachers:
            people.teacher_reg_ts.append(-1)
            people.teacher_level.append(UNREGISTERED)
            continue
        day, ts = ctx.times.draw(rng)
        people.teacher_reg_ts.append(ts)
        people.teacher_regs.setdefault(day, array("i")).append(index)
        is_active = t in active_teachers
        level = ctx.mix.draw(rng, is_active)
        people.teacher_level.append(level)
        if is_active:
            _plan_activation(rng, ctx, index, day)
        elif level == DORMANT and all(s in active_set or s not in registered_schools for s in schools):
            ctx.a_candidates.append((index, day))

    # organisations
    for s in registered:
        day, ts = ctx.times.draw(rng)
        people.org_regs.setdefault(day, []).append((ts, "school", ids[s]))
    staff_ids = [people.staff_id(m.municipality_id, k) for k in range(1, m.staff + 1)]
    ctx.out.staff.writerows((staff_id, m.municipality_id) for staff_id in staff_ids)
    ctx.out.count("staff", m.staff)
    if m.status != "absent":
        day, ts = ctx.times.draw(rng)
        people.org_regs.setdefault(day, []).append((ts, "municipality", m.municipality_id))
        if m.status in ("staff", "active"):
            _staff(m, rng, ctx, staff_ids, ts)

    _students(m, rng, ctx, ids, sizes)


def _staff(m: MunicipalityPlan, rng: random.Random, ctx: _Context, staff_ids: list[str], not_before: int) -> None:
    """Some of the staff register (after their municipality); an active municipality's registered
    staff create its group chat and write 3 group messages in it by the last day: one of them, or
    two (the first creates the chat with 0-2 messages, the second writes the rest on a later day)."""
    people, last_day = ctx.people, ctx.period.n_days - 1
    chat = f"c{m.municipality_id}-authority"
    accounts = []
    for staff_id in rng.sample(staff_ids, rng.randint(1, len(staff_ids))):
        day, ts = ctx.times.draw(rng, not_before=not_before)
        people.org_regs.setdefault(day, []).append((ts, "staff", staff_id))
        accounts.append(StaffAccount(staff_id, chat, ts, day))
    accounts.sort(key=lambda a: a.reg_ts)
    people.staff += accounts
    if m.status != "active":
        return
    creator = accounts[0]
    first = rng.randint(creator.reg_day, min(last_day, creator.reg_day + 14))
    creator.first_day, creator.creates = first, True
    creator.first_messages = 3 + min(3, int(rng.expovariate(1.0)))
    if len(accounts) > 1 and rng.random() < 0.5:
        second = accounts[1]
        start = max(first + 1, second.reg_day)
        if start <= last_day:  # the chat exists from the day after its creation
            creator.first_messages = rng.randint(0, 2)
            second.first_day = rng.randint(start, min(last_day, start + 10))
            second.first_messages = 3 - creator.first_messages
    for account in accounts:
        account.chat_from_day = first


def _plan_activation(rng: random.Random, ctx: _Context, index: int, reg_day: int) -> None:
    """The days of an active teacher's first group chat and of the three group messages that,
    with it, make the teacher active: three days drawn over the weeks after the registration
    (all by the period's last day), the chat on the first of them."""
    last_day = ctx.period.n_days - 1
    horizon = min(last_day, reg_day + 7 + int(rng.expovariate(1 / ctx.rhythm.activation_days)))
    span = list(range(reg_day, horizon + 1))
    weights = [ctx.teacher_days[d] for d in span]
    days = _weighted_sample(rng, span, weights, 3) if len(span) >= 3 else sorted(rng.choices(span, weights, k=3))
    first = days[0]
    ctx.people.first_chats.setdefault(first, []).append((index, days.count(first)))
    for day in days:
        if day != first:
            ctx.people.due_messages.setdefault(day, array("i")).append(index)


def _students(m: MunicipalityPlan, rng: random.Random, ctx: _Context, ids: list[str], sizes: list[int]) -> None:
    people = ctx.people
    counts = largest_remainder([n * rng.uniform(0.7, 1.3) for n in sizes], m.students)
    school_of = [s for s, n in enumerate(counts) for _ in range(n)]
    # registration propensity varies by school; the registered are the largest keys
    exponent = [1 / rng.lognormvariate(0, 0.6) for _ in sizes]
    random_ = rng.random
    keys = [random_() ** exponent[s] for s in school_of]
    registered = frozenset(heapq.nlargest(m.students_registered, range(m.students), key=keys.__getitem__))
    # birth dates: grade 1..11 on 1 September, aged grade + 5.5 to grade + 6.5 years then
    grades = rng.choices(range(1, 12), cum_weights=list(accumulate(GRADE_WEIGHTS)), k=m.students)
    year_start = ctx.school_year.toordinal()
    births = [year_start - int((g + 5.5 + random_()) * 365.25) for g in grades]
    iso: dict[int, str] = {}
    per_school: list[list[tuple[int, int, int]]] = [[] for _ in sizes]
    rows = []
    first = ctx.next_student
    for i, s in enumerate(school_of):
        born = births[i]
        text = iso.get(born)
        if text is None:
            text = iso[born] = date.fromordinal(born).isoformat()
        rows.append((people.student_id(first + i), ids[s], text))
        if i in registered:
            day, ts = ctx.times.draw(rng)
            on, birth = ctx.period.day(day), date.fromordinal(born)
            age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
            per_school[s].append((ts, first + i, 1 if age < PARENT_BELOW_AGE else 0))
    ctx.out.students.writerows(rows)
    ctx.out.count("students", len(rows))
    ctx.next_student += m.students
    for s, regs in enumerate(per_school):
        regs.sort()
        school = SchoolPeople(ids[s], chats=2 + counts[s] // 25)
        school.reg_ts.extend(r[0] for r in regs)
        school.reg_student.extend(r[1] for r in regs)
        school.reg_by_parent.extend(r[2] for r in regs)
        people.schools.append(school)


def _weighted_sample(rng: random.Random, items: list[int], weights: list[float], k: int) -> list[int]:
    """k distinct items, likelier by weight (Efraimidis-Spirakis), in their original order."""
    if k <= 0:
        return []
    keyed = [(rng.random() ** (1 / w), i) for i, w in zip(items, weights, strict=True)]
    return sorted(i for _, i in heapq.nlargest(k, keyed))


def _make_room(sizes: list[int], active: list[int], needed: int) -> None:
    """Move teachers into the active schools until they hold ``needed`` (others keep one)."""
    active_set = set(active)
    while sum(sizes[s] for s in active) < needed:
        donor = max((s for s in range(len(sizes)) if s not in active_set and sizes[s] > 1), key=sizes.__getitem__)
        sizes[donor] -= 1
        sizes[min(active, key=sizes.__getitem__)] += 1


def _school_names(rng: random.Random, m: MunicipalityPlan, sizes: list[int]) -> list[str]:
    if m.city:
        names = []
        for k in range(1, len(sizes) + 1):
            kind = "Гимназия" if k % 8 == 3 else "Лицей" if k % 11 == 5 else "Средняя общеобразовательная школа"
            names.append(f"МБОУ «{kind} № {k}»")
        return names
    places = list(PLACE_NAMES)
    rng.shuffle(places)
    names = []
    for k, size in enumerate(sizes):
        place = places[k % len(places)] + (f" № {k // len(places) + 1}" if k >= len(places) else "")
        kind = "СОШ" if size >= 20 else "ООШ" if size >= 8 else "НОШ"
        names.append(f"МБОУ «{place} {kind}»")
    return names
