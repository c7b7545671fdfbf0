"""Integer counts per municipality. For the seed's region: sizes plausible for cities and
districts, and registered / active counts such that every municipality's share rounds to the
seed's whole percent (and sits in the seed's level list) while the region sums are exact. For the
synthetic regions: counts drawn around a region's maturity, without targets.

The seed gives, per municipality, three shares and no sizes. Sizes come from rough populations;
where the region's total can only be met by leaning the sizes (teachers: sum of share x size must
equal the active total), they are tilted smoothly toward the municipalities with the higher share
(one parameter, found by bisection), then a small integer search fixes the sums.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from stream.tools.generate.plan import MunicipalityPlan, RegionPlan
from stream.tools.generate.profiles import PLACE_NAMES, RegionSize, SeedRegion, SeedShare, Status, masculine

SCHOOL_REGISTRATION = 0.937  # the seed's 325 of 347, as the typical rate of a municipality
#: staff accounts of a municipality's education authority (staff.csv): a city's, a district's
STAFF_CITY, STAFF_DISTRICT = 5, 3


class AllocationError(ValueError):
    """The targets cannot be met with integers under the constraints."""


def share_allowed(k: int, n: int, share: SeedShare) -> bool:
    """k / n rounds (half up) to ``share.percent`` and lies in the seed's level list
    (low < 30 %, high > 70 %, sufficient between)."""
    if n <= 0:
        return share.percent == 0 and k == 0
    p = share.percent
    if not (2 * p - 1) * n <= 200 * k < (2 * p + 1) * n:
        return False
    if share.level == "low":
        return 10 * k < 3 * n
    if share.level == "high":
        return 10 * k > 7 * n
    return 3 * n <= 10 * k <= 7 * n


def allowed_range(n: int, share: SeedShare) -> list[int]:
    centre = share.percent * n / 100
    lo, hi = max(0, math.floor(centre - n / 100) - 1), min(n, math.ceil(centre + n / 100) + 1)
    return [k for k in range(lo, hi + 1) if share_allowed(k, n, share)]


def largest_remainder(weights: Sequence[float], total: int) -> list[int]:
    """Integers proportional to ``weights`` summing to ``total`` (each at least 1 if possible)."""
    s = sum(weights)
    raw = [w * total / s for w in weights]
    out = [max(1, math.floor(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))
    i = 0
    while sum(out) < total:
        out[order[i % len(order)]] += 1
        i += 1
    order.reverse()
    i = 0
    while sum(out) > total:
        j = order[i % len(order)]
        if out[j] > 1:
            out[j] -= 1
        i += 1
    return out


def _bisect(f: Callable[[float], float], lo: float, hi: float) -> float:
    """A root of an increasing f in [lo, hi] (clamped to the ends)."""
    if f(lo) >= 0:
        return lo
    if f(hi) <= 0:
        return hi
    for _ in range(100):
        mid = (lo + hi) / 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _tilted(base: Sequence[float], shares: Sequence[float], total: int, target: int) -> list[float]:
    """Sizes ``base * exp(alpha * share)`` summing to ``total`` with sum(share * size) = target."""

    def sizes(alpha: float) -> list[float]:
        raw = [b * math.exp(alpha * s) for b, s in zip(base, shares, strict=True)]
        k = total / sum(raw)
        return [r * k for r in raw]

    alpha = _bisect(lambda a: sum(s * x for s, x in zip(shares, sizes(a), strict=True)) - target, -8.0, 8.0)
    return sizes(alpha)


def _sizes_with_counts(
    base: list[float], seeds: list[SeedShare], total: int, target: int
) -> tuple[list[int], list[int]]:
    """Sizes summing to ``total`` near ``base`` and counts summing to ``target`` with every
    count / size allowed by its seed share."""
    floats = _tilted(base, [s.percent / 100 for s in seeds], total, target)
    # a small unit's size may admit no count whose ratio rounds right: take the nearest that does
    sizes = [_nearest_fitting(max(1, round(x)), seed) for x, seed in zip(floats, seeds, strict=True)]
    big = max(range(len(sizes)), key=lambda i: (sizes[i], -i))
    sizes[big] += total - sum(sizes)
    if not allowed_range(sizes[big], seeds[big]):
        raise AllocationError("no size of the largest unit fits its share")
    ranges = [allowed_range(n, s) for n, s in zip(sizes, seeds, strict=True)]
    centres = [s.percent * n / 100 for n, s in zip(sizes, seeds, strict=True)]
    counts = [_nearest(r, c) for r, c in zip(ranges, centres, strict=True)]
    _fix_sum(counts, ranges, target)
    return sizes, counts


def _nearest_fitting(n: int, seed: SeedShare) -> int:
    for step in range(n + 1):
        for size in (n + step, n - step):
            if size >= 1 and allowed_range(size, seed):
                return size
    raise AllocationError(f"no size fits {seed}")


def _nearest(values: list[int], x: float) -> int:
    return min(values, key=lambda k: (abs(k - x), k))


def _fix_sum(values: list[int], ranges: list[list[int]], target: int) -> None:
    """Move values within their allowed ranges, one step at a time, until they sum to target."""
    while (gap := target - sum(values)) != 0:
        step = 1 if gap > 0 else -1
        best = None
        for i, r in enumerate(ranges):
            j = r.index(values[i]) + step
            if 0 <= j < len(r):
                room = len(r) - 1 - j if step > 0 else j
                if best is None or room > best[0]:
                    best = (room, i, r[j])
        if best is None:
            raise AllocationError(f"cannot reach {target}: stuck at {sum(values)}")
        values[best[1]] = best[2]


def _schools(
    weights: list[float], seeds: list[SeedShare], total: int, registered: int, active: int
) -> list[tuple[int, int, int]]:
    """(schools, registered, active) per municipality; the three sums exact, every active /
    registered allowed by its seed share, registered counts near sizes proportional to
    ``weights`` (tilted toward the higher shares as far as the active total needs).

    (registered, active) first, by dynamic programming over the municipalities with the two sums
    as state (pruned to the states from which the targets stay reachable), at the least total
    cost; then the unregistered schools, by size."""
    base = _tilted(weights, [s.percent / 100 for s in seeds], registered, active)
    options: list[list[tuple[float, int, int]]] = []
    for r0, seed in zip(base, seeds, strict=True):
        opts = [
            (100 * ((r - r0) / r0) ** 2, r, a)
            for r in range(max(1, math.floor(0.5 * r0)), math.ceil(2.0 * r0) + 4)
            for a in allowed_range(r, seed)
        ]
        if not opts:
            raise AllocationError(f"no school counts fit {seed}")
        options.append(opts)
    # the sums the remaining municipalities can still add, for pruning
    n = len(options)
    rest_lo = [(0, 0)] * (n + 1)
    rest_hi = [(0, 0)] * (n + 1)
    for i in range(n - 1, -1, -1):
        rs = [o[1] for o in options[i]]
        as_ = [o[2] for o in options[i]]
        rest_lo[i] = (rest_lo[i + 1][0] + min(rs), rest_lo[i + 1][1] + min(as_))
        rest_hi[i] = (rest_hi[i + 1][0] + max(rs), rest_hi[i + 1][1] + max(as_))
    layers: list[dict[tuple[int, int], tuple[float, int, tuple[int, int]]]] = [{(0, 0): (0.0, -1, (0, 0))}]
    for i, opts in enumerate(options):
        layer: dict[tuple[int, int], tuple[float, int, tuple[int, int]]] = {}
        lo, hi = rest_lo[i + 1], rest_hi[i + 1]
        for (sr, sa), (cost, _, _) in sorted(layers[-1].items()):
            for j, (c, r, a) in enumerate(opts):
                state = (sr + r, sa + a)
                if not (lo[0] <= registered - state[0] <= hi[0] and lo[1] <= active - state[1] <= hi[1]):
                    continue
                if state not in layer or cost + c < layer[state][0] - 1e-12:
                    layer[state] = (cost + c, j, (sr, sa))
        layers.append(layer)
    if (registered, active) not in layers[-1]:
        raise AllocationError(f"school counts cannot meet {(registered, active)}")
    chosen: list[tuple[int, int]] = []
    state = (registered, active)
    for i in range(n, 0, -1):
        _, j, state_before = layers[i][state]
        chosen.append(options[i - 1][j][1:])
        state = state_before
    chosen.reverse()
    # the unregistered schools go where a municipality has fewer registered than its size suggests
    sizes = [w * total / sum(weights) for w in weights]
    room = [max(0.0, s0 - r) + 0.1 for s0, (r, _) in zip(sizes, chosen, strict=True)]
    unregistered = _proportional(room, total - registered)
    return [(r + u, r, a) for (r, a), u in zip(chosen, unregistered, strict=True)]


def _proportional(weights: Sequence[float], total: int) -> list[int]:
    """Non-negative integers proportional to ``weights`` summing to ``total``."""
    s = sum(weights)
    raw = [w * total / s for w in weights]
    out = [math.floor(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))[: total - sum(out)]:
        out[i] += 1
    return out


def seed_region_plan(region: SeedRegion) -> RegionPlan:
    """The plan of a region of the seed, meeting its totals exactly. Pure: no randomness."""
    munis = region.municipalities
    pops = [m.population_k for m in munis]
    # a city has a school per ~6,000 people; a district a handful of village schools and branches
    school_weights = [p / 6.0 if m.city else 5 + 0.35 * p for p, m in zip(pops, munis, strict=True)]
    schools = _schools(
        school_weights,
        [m.schools_active for m in munis],
        region.schools_total,
        region.schools_registered,
        region.schools_active,
    )
    teacher_base = [p * (9.0 if m.city else 13.0) for p, m in zip(pops, munis, strict=True)]
    teachers, active = _sizes_with_counts(
        teacher_base, [m.teachers_active for m in munis], region.teachers_total, region.teachers_active
    )
    registered = _registered_teachers(teachers, active, region.teachers_registered)
    student_base = [t * (13.0 if m.city else 7.5) for t, m in zip(teachers, munis, strict=True)]
    students, students_reg = _sizes_with_counts(
        student_base, [m.students_registered for m in munis], region.students_total, region.students_registered
    )
    plans = []
    for i, m in enumerate(munis):
        s, sr, sa = schools[i]
        plan = MunicipalityPlan(
            municipality_id=f"{region.region_id}-{i + 1:02d}",
            name=m.name,
            city=m.city,
            status=m.status,
            schools=s,
            schools_registered=sr,
            schools_active=sa,
            teachers=teachers[i],
            teachers_registered=registered[i],
            teachers_active=active[i],
            students=students[i],
            students_registered=students_reg[i],
            staff=STAFF_CITY if m.city else STAFF_DISTRICT,
        )
        plan.check()
        plans.append(plan)
    # every active teacher created a group chat: a is at least the active share
    last_a = round(region.a_share * region.teachers_registered)
    last_b = round(region.b_share * region.teachers_registered)
    if not region.teachers_active <= last_a <= region.teachers_registered:
        raise AllocationError(f"a of {region.a_share} is below the active share of the region")
    result = RegionPlan(region.region_id, region.name, tuple(plans), region.b_share, last_a, last_b)
    registered_munis = sum(1 for m in munis if m.status != "absent")
    active_munis = sum(1 for m in munis if m.status == "active")
    if (registered_munis, active_munis) != (region.municipalities_registered, region.municipalities_active):
        raise AllocationError("municipality statuses do not match the region's counts")
    return result


def _registered_teachers(teachers: list[int], active: list[int], target: int) -> list[int]:
    """Registered teachers per municipality: more where more are active (rate 0.5 … 0.97)."""
    rates = [a / t for a, t in zip(active, teachers, strict=True)]

    def counts(c: float) -> list[float]:
        return [t * min(0.97, max(0.5, c + 0.45 * r)) for t, r in zip(teachers, rates, strict=True)]

    offset = _bisect(lambda c: sum(counts(c)) - target, -1.0, 2.0)
    values = [max(a, min(t, round(x))) for x, a, t in zip(counts(offset), active, teachers, strict=True)]
    ranges = [list(range(a, t + 1)) for a, t in zip(active, teachers, strict=True)]
    _fix_sum(values, ranges, target)
    return values


def synthetic_region_plan(
    size: RegionSize, teachers_total: int, students_per_teacher: float, rng: random.Random
) -> RegionPlan:
    """A region with drawn municipalities and shares around a drawn maturity; no exact targets."""
    b = size.b_share if size.b_share is not None else min(0.3, rng.expovariate(1 / 0.05))
    n_munis = max(3, min(60, round(6 + 14 * math.sqrt(size.population_m))))
    n_munis = min(n_munis, max(1, teachers_total // 40))
    n_cities = max(1, round(n_munis * 0.15))
    weights = [6.0] + [rng.uniform(0.6, 1.6) for _ in range(n_cities - 1)]
    weights += [rng.lognormvariate(0, 0.5) * 0.5 for _ in range(n_munis - n_cities)]
    teachers = largest_remainder(weights, max(teachers_total, n_munis))
    reg_rate = rng.uniform(0.55, 0.9)
    active_rate = min(0.8, max(0.01, 0.08 + 4.0 * b))
    student_rate = rng.uniform(0.2, 0.6)
    plans = []
    stems = _district_names(rng, n_munis)
    for i in range(n_munis):
        city = i < n_cities
        t = teachers[i]
        tr = min(t, max(1, round(t * min(0.98, reg_rate * rng.uniform(0.8, 1.2)))))
        ta = min(tr, round(tr * active_rate * rng.uniform(0.5, 1.5)))
        s = max(1, min(t, round(t / (45 if city else 16) * rng.uniform(0.8, 1.2))))
        sr = min(s, max(1, round(s * rng.uniform(0.8, 1.0))))
        sa = min(sr, ta, round(sr * min(1.0, active_rate * rng.uniform(1.0, 2.0))))
        if ta > 0 and sa == 0:
            sa = 1
        n = max(1, round(t * students_per_teacher * (1.4 if city else 0.8) * rng.uniform(0.85, 1.15)))
        nr = min(n, round(n * student_rate * rng.uniform(0.6, 1.4)))
        roll = rng.random()
        status: Status = "absent" if roll < 0.04 else "no_staff" if roll < 0.3 else "staff"
        if status == "staff" and rng.random() < min(0.9, 0.2 + 3 * b):
            status = "active"
        name = f"город {stems[i].removesuffix('ий')}" if city else f"{stems[i]} район"
        staff = rng.randint(3, 6) if city else rng.randint(1, 4)
        plan = MunicipalityPlan(
            f"{size.region_id}-{i + 1:02d}", name, city, status, s, sr, sa, t, tr, ta, n, nr, staff
        )  # fmt: skip
        plan.check()
        plans.append(plan)
    return RegionPlan(size.region_id, size.name, tuple(plans), b)


def _district_names(rng: random.Random, n: int) -> list[str]:
    places = list(PLACE_NAMES)
    rng.shuffle(places)
    return [
        masculine(places[i % len(places)]) + (f"-{i // len(places) + 1}" if i >= len(places) else "") for i in range(n)
    ]
