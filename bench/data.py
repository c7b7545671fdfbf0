"""The benchmark's events: ``stream.tools.generate``'s federal profile, steady weeks only.

The generator puts a backlog of registrations into the period's first week (everyone who joined
before it), which no live stream looks like. So it generates three weeks and keeps the first
``n`` events of weeks two and three: messages, chats and calls of students, parents, teachers and
staff in the school rhythm, with registrations trickling in, and keys (users) spread as the
federal profile spreads them over 85 regions. The scale is chosen for ``n``; if the steady weeks
come out shorter than ``n``, it is raised and the data made again.

The period is fixed, so the same ``n`` and seed give the same file on any day.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson

from stream.tools.generate.calendar import Period
from stream.tools.generate.run import plan_profile, write_events, write_registry

PROFILE = "federal"
FEDERAL_TEACHERS = 1_100_000
#: Weeks two and three of the federal profile in November: about 4.8 events per registry teacher
#: and week, students' and parents' included (measured; only sizes the first try).
STEADY_EVENTS_PER_TEACHER_WEEK = 4.8
PERIOD = Period(last_monday=date(2025, 11, 17), weeks=3)  # 3 Nov (backlog week) to 23 Nov 2025
MAX_TRIES = 4


@dataclass(frozen=True)
class BenchData:
    path: Path
    events: int
    users: int  # distinct keys
    teachers_active: int  # teachers with any counted activity
    teacher_events: int  # activity events of teachers (what teacher_week counts)
    top1pct_share: float  # share of the events from the busiest 1 % of keys
    scale: float
    first_ts: int
    last_ts: int


def make_events(n: int, workdir: Path, *, seed: int = 1) -> BenchData:
    """Write ``workdir/events.ndjson`` with exactly ``n`` events and describe it."""
    scale = n / (2 * STEADY_EVENTS_PER_TEACHER_WEEK * FEDERAL_TEACHERS) * 1.1
    steady_from = PERIOD.day_start_ms(7)
    generated = workdir / "generated"
    out = workdir / "events.ndjson"
    for _ in range(MAX_TRIES):
        plans = plan_profile(PROFILE, seed=seed, scale=scale)
        people, _ = write_registry(plans, generated / "registry", PERIOD, PROFILE, seed)
        write_events(people, generated / "events.ndjson", PERIOD, PROFILE, seed)
        data = _take_steady(generated / "events.ndjson", out, n, steady_from, scale)
        if data is not None:
            shutil.rmtree(generated)
            return data
        scale *= 1.5
    raise RuntimeError(f"could not generate {n} steady events (last scale {scale:.4f})")


def _take_steady(source: Path, out: Path, n: int, steady_from: int, scale: float) -> BenchData | None:
    keys: Counter[str] = Counter()
    teachers: set[str] = set()
    teacher_events = 0
    first_ts = last_ts = -1
    written = 0
    with source.open("rb") as lines, out.open("wb") as sink:
        for line in lines:
            event = orjson.loads(line)
            ts = event["ts"]
            if ts < steady_from:
                continue
            if written == n:
                break
            sink.write(line)
            written += 1
            first_ts = ts if first_ts < 0 else first_ts
            last_ts = ts
            user = event["user_id"]
            keys[user] += 1
            if event["role"] == "teacher" and event["type"] != "registered":
                teachers.add(user)
                teacher_events += 1
    if written < n:
        return None
    busiest = sum(count for _, count in keys.most_common(max(1, len(keys) // 100)))
    return BenchData(out, n, len(keys), len(teachers), teacher_events, busiest / n, scale, first_ts, last_ts)
