"""The incremental refresh of the stored indicators (``sinks/kpi_changes.py``) leaves
``kpi_unit_week`` equal to a full recompute (``kpi_unit_week_compute`` of every week), row for row
and column for column.

Each scenario splits an event set in two: the events of some users (all of them, or those from
some week on: a user's events keep their order) are held back as a change, the others are
processed, written and refreshed in full (``load-registry``): the state before. Then the change is
processed by the same state, written as a checkpoint writes it, its users noted as the worker
notes them, and refreshed incrementally. The expectation is computed independently of the
incremental path: the full recompute of the same data. Every scenario meant to change something
first checks that the stored rows were stale before the refresh (so the comparison can fail).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

import stream.worker.store as worker_store
from schemas.rows import PendingRows, week_date
from sinks.clickhouse import ClickHouseSink
from sinks.kpi import KPI_COLUMNS, current_snapshot, refresh_kpi
from sinks.kpi_changes import ChangesRefreshed, refresh_kpi_changes
from sinks.registry import load_registry
from stream.core.batch import BatchProcessor, DictState, Record
from stream.core.refresh_work import RefreshWork
from stream.core.week import WeekCalendar
from stream.settings import Settings
from stream.worker.store import WorkerStore
from tests.support.eventgen import DAY_MS, T0_MS, GenConfig, generate, week_of
from tests.support.gen_registry import registry_for
from tests.support.kpi_dataset import NOW_MS, W1, W2, W3, W4, build, write_registry

Event = dict[str, Any]
Registry = dict[str, list[list[str]]]
Moved = Callable[[Event], bool]
KEY = slice(0, 3)  # week_start, unit_kind, unit_id


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One embedded store for the module (one per process); each scenario has its own database."""
    base = tmp_path_factory.mktemp("incremental")
    yield f"chdb://{base / 'store'}", base


@dataclass
class Outcome:
    stale: list[str]  # how the stored rows differed from a full recompute before the refresh
    refreshed: ChangesRefreshed
    differences: list[str]  # after it (must be empty)
    users: int  # users the checkpoint changed


def week(event: Event) -> date:
    return week_of(event["ts"]).date()


def users(*ids: str, types: tuple[str, ...] | None = None, from_week: date | None = None) -> Moved:
    """The events of these users (of these types; from this week on)."""
    wanted = set(ids)

    def moved(event: Event) -> bool:
        return (
            event.get("user_id") in wanted
            and (types is None or event.get("type") in types)
            and (from_week is None or week(event) >= from_week)
        )

    return moved


Rows = dict[tuple[Any, ...], tuple[Any, ...]]


def stored_rows(sink: ClickHouseSink) -> Rows:
    rows = sink.query_rows(f"SELECT {', '.join(KPI_COLUMNS)} FROM {sink.database}.kpi_unit_week")
    return {tuple(r[KEY]): tuple(r) for r in rows}


def recomputed_rows(sink: ClickHouseSink, snapshot: int) -> Rows:
    """kpi_unit_week_compute of every week: the full recompute, not stored."""
    rows = sink.query_rows(
        f"SELECT {', '.join(KPI_COLUMNS)} "
        f"FROM {sink.database}.kpi_unit_week_compute(snapshot = {{s:UInt32}}, from_week = '1970-01-01')",
        parameters={"s": snapshot},
    )
    return {tuple(r[KEY]): tuple(r) for r in rows}


def differences(stored: Rows, full: Rows) -> list[str]:
    """Missing, extra or different rows, with the columns that differ (exact equality, floats
    included: both divide the same integers)."""
    out = []
    for key in sorted(set(stored) | set(full)):
        if key not in stored:
            out.append(f"{key}: not stored")
        elif key not in full:
            out.append(f"{key}: stored, not computed")
        elif stored[key] != full[key]:
            diff = [
                f"{name} {a!r} != {b!r}"
                for name, a, b in zip(KPI_COLUMNS, stored[key], full[key], strict=True)
                if a != b
            ]
            out.append(f"{key}: {', '.join(diff)}")
    return out


class Split:
    """The state before (held-back events left out, written, refreshed in full) and the change."""

    def __init__(self, dsn: str, base: Path, name: str, registry: Registry, lines: list[bytes], now_ms: int) -> None:
        self.sink = ClickHouseSink(dsn=dsn, database=name)
        self.base, self.name, self.registry, self.lines = base, name, registry, lines
        self.processor = BatchProcessor(Settings(), check_key=False, clock=lambda: now_ms / 1000)
        self.states = DictState()

    def process(self, lines: list[bytes]) -> PendingRows:
        self.processor.process([Record(line, None, i) for i, line in enumerate(lines)], self.states)
        return self.processor.take_pending()

    def before(self, moved: Moved) -> list[bytes]:
        """Write and refresh in full every line but the moved ones; return the moved ones."""
        kept: list[bytes] = []
        held: list[bytes] = []
        for line in self.lines:
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            (held if isinstance(event, dict) and moved(event) else kept).append(line)
        self.sink.ensure_schema()
        self.sink.write(self.process(kept))
        load_registry(self.sink, write_registry(self.registry, self.base / f"registry-{self.name}"))
        return held

    def snapshot(self) -> int:
        snapshot = current_snapshot(self.sink)
        assert snapshot is not None
        return snapshot


def run(dsn: str, base: Path, name: str, registry: Registry, lines: list[bytes], now_ms: int, moved: Moved) -> Outcome:
    split = Split(dsn, base, name, registry, lines, now_ms)
    try:
        rows = split.process(split.before(moved))
        split.sink.write(rows)
        work = RefreshWork()
        work.note_rows(rows, WeekCalendar(Settings().timezone))
        full = recomputed_rows(split.sink, split.snapshot())
        stale = differences(stored_rows(split.sink), full)
        changes = {user: week_date(w) for user, w in work.users.items()}
        refreshed = refresh_kpi_changes(split.sink, changes)
        return Outcome(stale, refreshed, differences(stored_rows(split.sink), full), len(changes))
    finally:
        split.sink.close()


def kpi_dataset(store: tuple[str, Path], name: str, moved: Moved) -> Outcome:
    registry, lines = build()
    return run(*store, name, registry, lines, NOW_MS, moved)


#: the users with an event in W1 of the edge cases
W1_USERS = {json.loads(line)["user_id"] for line in build()[1] if week(json.loads(line)) == W1}

#: (name, the held-back events): what each changes is in tests/support/kpi_dataset.py's docstring
KPI_CHANGES: list[tuple[str, Moved]] = [
    # every event of a teacher arrives late, its week long stored (a phone offline for weeks)
    ("late-teacher-w1", users("t17")),
    ("late-teachers-of-two-schools", users("t02", "t03")),  # t02: s1 + s2 of m1; t03: m1 and m2
    ("teacher-registration", users("t04", types=("registered",))),  # active in W1, registered in W3
    ("teacher-registered-twice", users("t12", types=("registered",))),
    ("teacher-activity-from-w2", users("t01", from_week=W2)),
    ("staff-registration", users("a22", types=("registered",))),  # m2 active from W2 through a21 + a22
    ("staff-activity", users("a21", types=("chat_created", "message_sent"))),
    ("staff-late", users("a11")),
    ("student-registrations", users("u02", "u05", "u15")),  # u02: parent then self
    ("school-registration", users("s3", "s7")),
    ("municipality-registration", users("m3", "m1")),
    ("new-newest-week", lambda e: week(e) == W4),
    # a first week earlier than stored: every user with an event in W1 (its later events would
    # otherwise be ahead of them, and they late)
    ("new-first-week", lambda e: e.get("user_id") in W1_USERS),
    ("everything-of-many", users("t01", "t05", "t09", "t10", "a31", "u08", "s4", "m2", "t19", "u13")),
]


@pytest.mark.parametrize(("name", "moved"), KPI_CHANGES, ids=[name for name, _ in KPI_CHANGES])
def test_incremental_refresh_equals_full_recompute_on_the_edge_cases(
    store: tuple[str, Path], name: str, moved: Moved
) -> None:
    outcome = kpi_dataset(store, name.replace("-", "_"), moved)
    assert outcome.stale, "the change changed nothing: the comparison could not fail"
    assert not outcome.differences, outcome.differences[:10]
    if name == "new-newest-week":
        assert outcome.refreshed.full_from == W4
    elif name == "new-first-week":
        assert outcome.refreshed.full_from == W1
    else:  # only the touched units were computed
        assert outcome.refreshed.full_from is None and 0 < outcome.refreshed.units < 16


def test_users_missing_from_the_registry_change_no_row(store: tuple[str, Path]) -> None:
    # a teacher missing from teachers.csv, staff missing from staff.csv, a student missing from
    # students.csv, a school missing from schools.csv, a parent: their events are all written
    outcome = kpi_dataset(store, "not_in_registry", users("tx99", "st01", "u99", "s99", "p01"))
    assert outcome.users == 5
    assert not outcome.stale and not outcome.differences
    assert outcome.refreshed == ChangesRefreshed(rows=0, units=0, full_from=None)


@pytest.mark.parametrize("seed", range(8))
def test_incremental_refresh_equals_full_recompute_for_random_changes(store: tuple[str, Path], seed: int) -> None:
    """Random users (any role, in the registry or not), each from a random week on."""
    rnd = random.Random(seed)
    everyone = sorted(W1_USERS | {json.loads(line)["user_id"] for line in build()[1]})
    cut = {user: rnd.choice((W1, W2, W3, W4)) for user in rnd.sample(everyone, rnd.randint(1, 12))}
    outcome = kpi_dataset(store, f"random_{seed}", lambda e: e["user_id"] in cut and week(e) >= cut[e["user_id"]])
    assert not outcome.differences, (cut, outcome.differences[:10])


GEN = GenConfig(events=20_000, weeks=4, teachers=900, seed=20261203, municipality_accounts=True)
GEN_NOW_MS = T0_MS + (GEN.weeks * 7 + 1) * DAY_MS
GEN_W = [week_of(T0_MS + 7 * DAY_MS * i).date() for i in range(GEN.weeks)]


@pytest.fixture(scope="module")
def generated() -> tuple[Registry, list[bytes], list[str]]:
    lines = generate(GEN)
    users_seen = set()
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("user_id"), str):
            users_seen.add(event["user_id"])
    return registry_for(GEN), lines, sorted(users_seen)


@pytest.mark.parametrize("seed", range(4))
def test_incremental_refresh_equals_full_recompute_on_generated_data(
    store: tuple[str, Path], generated: tuple[Registry, list[bytes], list[str]], seed: int
) -> None:
    """A checkpoint-like change: the events of a tenth of the users from a random week on (the last
    week for most seeds, as a flush of the newest week)."""
    registry, lines, everyone = generated
    rnd = random.Random(seed)
    from_week = GEN_W[-1] if seed % 3 else rnd.choice(GEN_W[1:])
    picked = set(rnd.sample(everyone, len(everyone) // 10))

    def moved(e: Event) -> bool:
        return e.get("user_id") in picked and isinstance(e.get("ts"), int) and week(e) >= from_week

    outcome = run(*store, f"generated_{seed}", registry, lines, GEN_NOW_MS, moved)
    assert outcome.stale, "the change changed nothing: the comparison could not fail"
    assert not outcome.differences, outcome.differences[:10]
    assert outcome.refreshed.full_from is None and outcome.refreshed.units > 0


def test_generated_data_reaching_a_new_week(
    store: tuple[str, Path], generated: tuple[Registry, list[bytes], list[str]]
) -> None:
    registry, lines, _ = generated
    last = GEN_W[-1]

    def moved(e: Event) -> bool:
        return isinstance(e.get("ts"), int) and week(e) >= last

    outcome = run(*store, "generated_new_week", registry, lines, GEN_NOW_MS, moved)
    assert outcome.stale and not outcome.differences, outcome.differences[:10]
    assert outcome.refreshed.full_from == last


def test_the_worker_refreshes_its_checkpoints_incrementally(
    store: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """WorkerStore end to end: its first refresh covers everything, then each checkpoint's users."""
    refreshed: list[ChangesRefreshed] = []

    def spy(sink: ClickHouseSink, changes: Any) -> ChangesRefreshed:
        refreshed.append(refresh_kpi_changes(sink, changes))
        return refreshed[-1]

    monkeypatch.setattr(worker_store, "refresh_kpi_changes", spy)
    registry, lines = build()
    split = Split(*store, "worker", registry, lines, NOW_MS)
    held = split.before(users("t03", "a22", "u04", "s6", "t11"))
    snapshot = split.snapshot()

    async def checkpoints() -> list[list[str]]:
        worker = WorkerStore(split.sink, WeekCalendar(Settings().timezone))
        await worker.refresh_kpi()  # its first: every unit, every week
        seen = [differences(stored_rows(split.sink), recomputed_rows(split.sink, snapshot))]
        for half in (held[: len(held) // 2], held[len(held) // 2 :]):
            await worker.write_rows(split.process(half))
            full = recomputed_rows(split.sink, snapshot)
            seen.append(differences(stored_rows(split.sink), full))
            await worker.refresh_kpi()
            seen.append(differences(stored_rows(split.sink), full))
        await worker.close()
        return seen

    seen = asyncio.run(checkpoints())
    assert [bool(d) for d in seen] == [False, True, False, True, False], seen
    assert len(refreshed) == 2 and all(r.full_from is None and r.units > 0 for r in refreshed)


def test_week_span_is_the_compute_views_weeks(store: tuple[str, Path]) -> None:
    """kpi_week_span, which the incremental refresh checks the stored weeks against, spans the
    weeks kpi_unit_week_compute has rows for (on the edge cases: W1 to W4)."""
    from sinks.kpi_changes import week_span

    registry, lines = build()
    split = Split(*store, "span", registry, lines, NOW_MS)
    try:
        split.before(lambda e: False)
        weeks = split.sink.query_rows(
            "SELECT DISTINCT week_start FROM span.kpi_unit_week_compute(snapshot = 1, from_week = '1970-01-01') "
            "ORDER BY week_start"
        )
        assert week_span(split.sink) == (W1, W4)
        assert [r[0] for r in weeks] == [W1 + timedelta(days=7 * i) for i in range(4)] == [W1, W2, W3, W4]
    finally:
        split.sink.close()


def test_the_student_lookup_cut_short_is_built_again(store: tuple[str, Path]) -> None:
    """``kpi_student_school`` (a copy of the registry's students, ordered by student) is built once
    per snapshot, and again by a full refresh when its rows are not the registry's (a build that
    died half-way)."""
    registry, lines = build()
    split = Split(*store, "student_lookup", registry, lines, NOW_MS)
    try:
        split.before(lambda e: False)  # written, the registry loaded, refreshed in full
        db, snapshot = split.sink.database, split.snapshot()

        def lookup() -> set[tuple[str, str]]:
            rows = split.sink.query_rows(
                f"SELECT student_id, school_id FROM {db}.kpi_student_school WHERE snapshot = {snapshot:d}"
            )
            return {(r[0], r[1]) for r in rows}

        expected = {(row[0], row[1]) for row in registry["students"][1:]}  # students.csv: student_id, school_id
        assert len(expected) > 10 and lookup() == expected
        split.sink.client.command(
            f"DELETE FROM {db}.kpi_student_school WHERE snapshot = {snapshot:d} AND cityHash64(student_id) % 2 = 0"
        )
        assert 0 < len(lookup()) < len(expected)
        refresh_kpi(split.sink, snapshot=snapshot)
        assert lookup() == expected
        assert not differences(stored_rows(split.sink), recomputed_rows(split.sink, snapshot))
    finally:
        split.sink.close()
