"""``stream.worker.store``: which users a checkpoint's rows change, from which week, and what the
refresh of the stored indicators is asked to do with them (the refresh functions are fakes here;
``tests/integration/test_kpi_incremental.py`` checks the refresh's rows).

Weeks are ``week_start`` days since 1970-01-01, Europe/Moscow: 20_710 is Monday 2026-09-14.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

import stream.core.refresh_work as refresh_work
import stream.worker.store as module
from schemas.rows import PendingRows, RegistrationRow, TeacherWeekRow
from sinks.clickhouse import StoreError
from sinks.kpi_changes import ChangesRefreshed
from stream.core.refresh_work import RefreshWork
from stream.core.week import WeekCalendar
from stream.worker.store import WorkerStore

W1, W2, W3 = 20_703, 20_710, 20_717  # Mondays 2026-09-07, 09-14, 09-21
#: 2026-09-13 23:59:59.999 and 2026-09-14 00:00:00.000 MSK (UTC+3): the last instant of W1, the first of W2
SUN_W1_LAST_MS = 1_789_333_199_999
MON_W2_FIRST_MS = 1_789_333_200_000


def teacher_row(user: str, week: int, version: int = 1) -> TeacherWeekRow:
    return TeacherWeekRow(week, user, 0, 1, 1, 0, version)


def registration(role: str, user: str, ts: int) -> RegistrationRow:
    return RegistrationRow(user, role, "self", ts, f"ev-{role}-{user}-{ts}")


def rows_of(
    teachers: list[tuple[str, int]] = (),  # type: ignore[assignment]
    staff: list[tuple[str, int]] = (),  # type: ignore[assignment]
    registrations: list[RegistrationRow] = (),  # type: ignore[assignment]
) -> PendingRows:
    rows = PendingRows()
    for user, week in teachers:
        rows.teacher_weeks[(user, week)] = teacher_row(user, week)
    for user, week in staff:
        rows.staff_weeks[(user, week)] = teacher_row(user, week)
    for r in registrations:
        rows.registrations[(r.role, r.user_id, r.event_id)] = r
    return rows


def test_rows_note_each_user_by_role_from_its_earliest_week() -> None:
    work = RefreshWork()
    work.note_rows(
        rows_of(
            teachers=[("t1", W3), ("t1", W2), ("t2", W3)],
            staff=[("t1", W3)],  # the same id as staff is another user
            registrations=[
                registration("student", "u1", SUN_W1_LAST_MS),
                registration("school", "s1", MON_W2_FIRST_MS),
                registration("teacher", "t2", SUN_W1_LAST_MS),
                registration("parent", "p1", MON_W2_FIRST_MS),  # touches no unit; noted all the same
            ],
        ),
        WeekCalendar("Europe/Moscow"),
    )
    assert work.every_from is None
    assert work.users == {
        ("teacher", "t1"): W2,
        ("teacher", "t2"): W1,  # its registration is earlier than its row
        ("staff", "t1"): W3,
        ("student", "u1"): W1,
        ("school", "s1"): W2,
        ("parent", "p1"): W2,
    }


def test_a_later_week_does_not_move_a_user_forward() -> None:
    work = RefreshWork()
    work.note("teacher", "t1", W2)
    work.note("teacher", "t1", W3)
    work.note("teacher", "t1", W1)
    work.note("teacher", "t1", W2)
    assert work.users == {("teacher", "t1"): W1}


def test_too_many_users_become_every_unit_from_their_earliest_week(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refresh_work, "MAX_CHANGED_USERS", 3)
    work = RefreshWork()
    for i, week in enumerate((W3, W2, W3)):
        work.note("teacher", f"t{i}", week)
    assert work.every_from is None and len(work.users) == 3
    work.note("student", "u1", W3)
    assert work.every_from == W2 and work.users == {}
    work.note("teacher", "t9", W1)  # every unit, from an earlier week now
    assert work.every_from == W1 and work.users == {}


def test_merge_keeps_the_earliest_week_and_every_user() -> None:
    users = RefreshWork()
    users.note("teacher", "t1", W2)
    more = RefreshWork()
    more.note("teacher", "t1", W1)
    more.note("staff", "a1", W3)
    users.merge(more)
    assert users.every_from is None and users.users == {("teacher", "t1"): W1, ("staff", "a1"): W3}

    everything = RefreshWork(every_from=W3)
    everything.merge(users)  # every unit from W3 does not cover t1's W1: every unit from W1
    assert everything.every_from == W1 and everything.users == {}
    users.merge(RefreshWork(every_from=W2))
    assert users.every_from == W1 and users.users == {}


class FakeSink:
    def __init__(self) -> None:
        self.written: list[PendingRows] = []

    def write(self, rows: PendingRows) -> int:
        self.written.append(rows)
        return len(rows)

    def close(self) -> None:
        pass


class Refreshes:
    """Stands in for sinks.kpi.refresh_kpi and sinks.kpi_changes.refresh_kpi_changes: records the
    calls, fails while ``down``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.down = False

    def full(self, sink: Any, *, from_week: date) -> int:
        self.calls.append(("full", from_week))
        if self.down:
            raise StoreError("the store is down")
        return 0

    def changes(self, sink: Any, changes: dict[tuple[str, str], date]) -> ChangesRefreshed:
        self.calls.append(("changes", dict(changes)))
        if self.down:
            raise StoreError("the store is down")
        return ChangesRefreshed(rows=0)


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch) -> Refreshes:
    fake = Refreshes()
    monkeypatch.setattr(module, "refresh_kpi", fake.full)
    monkeypatch.setattr(module, "refresh_kpi_changes", fake.changes)
    return fake


def run(body: Any) -> Any:
    async def main() -> Any:
        store = WorkerStore(FakeSink(), WeekCalendar())  # type: ignore[arg-type]
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_the_first_refresh_covers_every_unit_and_week_then_only_the_changed_users(refreshes: Refreshes) -> None:
    async def body(store: WorkerStore) -> None:
        await store.write_rows(rows_of(teachers=[("t1", W2)]))
        await store.refresh_kpi()  # the worker does not know what changed before it started
        await store.refresh_kpi()  # nothing written since: nothing to do
        await store.write_rows(
            rows_of(teachers=[("t1", W3)], registrations=[registration("staff", "a1", SUN_W1_LAST_MS)])
        )
        await store.refresh_kpi()

    run(body)
    assert refreshes.calls == [
        ("full", date(1970, 1, 1)),
        ("changes", {("teacher", "t1"): date(2026, 9, 21), ("staff", "a1"): date(2026, 9, 7)}),
    ]


@pytest.mark.parametrize("first", [True, False], ids=["first-refresh", "later-refresh"])
def test_a_failed_refresh_keeps_its_work_for_the_next(refreshes: Refreshes, first: bool) -> None:
    async def body(store: WorkerStore) -> None:
        if not first:
            await store.refresh_kpi()
        await store.write_rows(rows_of(teachers=[("t1", W2)]))
        refreshes.down = True
        await store.refresh_kpi()
        await store.refresh_kpi()  # still down: tried again with the same work
        refreshes.down = False
        await store.write_rows(rows_of(teachers=[("t2", W3)]))
        await store.refresh_kpi()
        await store.refresh_kpi()  # done: nothing left

    run(body)
    calls = refreshes.calls[0 if first else 1 :]
    if first:  # every unit from the first week, until one succeeds
        assert calls == [("full", date(1970, 1, 1))] * 3
    else:
        t1 = {("teacher", "t1"): date(2026, 9, 14)}
        assert calls == [("changes", t1), ("changes", t1), ("changes", t1 | {("teacher", "t2"): date(2026, 9, 21)})]


def test_users_written_while_a_refresh_runs_are_kept_when_it_fails(refreshes: Refreshes) -> None:
    async def body(store: WorkerStore) -> None:
        await store.refresh_kpi()
        await store.write_rows(rows_of(teachers=[("t1", W2)]))
        refreshes.down = True
        # the write is in the store's thread first; the refresh takes the work (t1) and waits for
        # it; the write then notes t2 in the new work; the refresh fails: both are kept
        await asyncio.gather(store.write_rows(rows_of(teachers=[("t2", W1)])), store.refresh_kpi())
        refreshes.down = False
        await store.refresh_kpi()

    run(body)
    assert refreshes.calls[1:] == [
        ("changes", {("teacher", "t1"): date(2026, 9, 14)}),
        ("changes", {("teacher", "t1"): date(2026, 9, 14), ("teacher", "t2"): date(2026, 9, 7)}),
    ]
