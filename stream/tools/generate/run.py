"""``sferum-kpi generate``: plan the profile's regions, write the registry, then the events day by
day (one day of all regions in memory at a time, sorted, written, dropped)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeGuard

from stream.tools.generate.allocate import seed_region_plan, synthetic_region_plan
from stream.tools.generate.calendar import Period
from stream.tools.generate.events import RegionDays
from stream.tools.generate.people import RegionPeople
from stream.tools.generate.plan import RegionPlan
from stream.tools.generate.profiles import (
    FEDERAL_REGIONS,
    FEDERAL_STUDENTS_PER_TEACHER,
    FEDERAL_TEACHERS,
    OREL,
    SMALL_REGIONS,
    SMALL_STUDENTS_PER_TEACHER,
    SMALL_TEACHERS,
    RegionSize,
)
from stream.tools.generate.registry import build_region
from stream.tools.generate.rhythm import RHYTHMS
from stream.tools.generate.writer import Event, EventWriter, RegistryWriter

ProfileName = Literal["small", "orel", "federal"]
PROFILES: Final = ("small", "orel", "federal")
EVENTS_FILE: Final = "events.ndjson"
REGISTRY_DIR: Final = "registry"
#: ``progress(label, total)``: a context giving the function told each step done.
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


def is_profile(name: str) -> TypeGuard[ProfileName]:
    return name in PROFILES


@contextmanager
def no_progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


@dataclass
class GenerateSummary:
    registry_rows: dict[str, int] = field(default_factory=dict)
    teachers: int = 0  # people; registry_rows["teachers"] counts (teacher, school) pairs
    events: int = 0
    events_bytes: int = 0
    seconds: float = 0.0


def check_scale(profile: ProfileName, scale: float) -> None:
    """``ValueError`` unless the profile can be scaled so: ``orel`` is the seed's region, exactly."""
    if profile == "orel" and scale != 1.0:
        raise ValueError("--scale applies to small and federal; orel is the seed's region at its size")


def plan_profile(profile: ProfileName, *, seed: int, scale: float = 1.0) -> list[RegionPlan]:
    """The regions of a profile. ``orel`` is the seed's region, exactly (``scale`` must be 1)."""
    check_scale(profile, scale)
    if profile == "orel":
        return [seed_region_plan(OREL)]
    sizes, teachers, per_teacher = (
        (SMALL_REGIONS, SMALL_TEACHERS, SMALL_STUDENTS_PER_TEACHER)
        if profile == "small"
        else (FEDERAL_REGIONS, FEDERAL_TEACHERS, FEDERAL_STUDENTS_PER_TEACHER)
    )
    return [_synthetic(size, sizes, teachers * scale, per_teacher, seed) for size in sizes]


def _synthetic(
    size: RegionSize, sizes: tuple[RegionSize, ...], teachers: float, per_teacher: float, seed: int
) -> RegionPlan:
    population = sum(s.population_m for s in sizes)
    n = max(1, round(teachers * size.population_m / population))
    return synthetic_region_plan(size, n, per_teacher, random.Random(f"{seed}/plan/{size.region_id}"))


def write_registry(
    plans: list[RegionPlan],
    directory: Path,
    period: Period,
    profile: ProfileName,
    seed: int,
    on_region: Callable[[int], None] = lambda n: None,
) -> tuple[list[RegionPeople], dict[str, int]]:
    """Write the registry CSVs; return each region's people and the rows per file."""
    rhythm = RHYTHMS[profile]
    people = []
    with RegistryWriter(directory) as out:
        for plan in plans:
            people.append(build_region(plan, period, rhythm, seed, out))
            on_region(1)
    return people, out.rows


def write_events(
    people: list[RegionPeople],
    path: Path,
    period: Period,
    profile: ProfileName,
    seed: int,
    on_day: Callable[[int], None] = lambda n: None,
) -> tuple[int, int]:
    """Write the events, day by day; return (lines, bytes)."""
    rhythm = RHYTHMS[profile]
    regions = [RegionDays(p, period, rhythm, seed) for p in people]
    with EventWriter(path, seed) as out:
        for d in range(period.n_days):
            day: list[Event] = []
            for region in regions:
                region.day(d, day)
            out.write_day(day)
            on_day(1)
    return out.lines, out.bytes


def generate(
    profile: ProfileName,
    outdir: Path,
    *,
    period: Period,
    seed: int,
    scale: float = 1.0,
    progress: Progress = no_progress,
) -> GenerateSummary:
    """Plan the regions, write the registry, then the events; ``progress`` shows each step."""
    started = time.perf_counter()
    plans = plan_profile(profile, seed=seed, scale=scale)
    with progress("registry", len(plans)) as advance:
        people, rows = write_registry(plans, outdir / REGISTRY_DIR, period, profile, seed, advance)
    with progress("events (days)", period.n_days) as advance:
        lines, size = write_events(people, outdir / EVENTS_FILE, period, profile, seed, advance)
    teachers = sum(p.total("teachers") for p in plans)
    return GenerateSummary(rows, teachers, lines, size, time.perf_counter() - started)
