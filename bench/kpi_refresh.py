"""Time the refresh of the stored indicators: the full one against the incremental one after a
checkpoint of the newest week, and check the incremental one's rows against a full recompute.

    sferum-kpi generate --profile federal --weeks 8 --last-week 2026-11-16 /tmp/fed
    SFERUM_STORE=chdb:///tmp/fed/store sferum-kpi load-registry /tmp/fed/registry
    SFERUM_STORE=chdb:///tmp/fed/store sferum-kpi replay /tmp/fed/events.ndjson
    .venv/bin/python -m bench.kpi_refresh --store chdb:///tmp/fed/store [--teachers 1700] \\
        [--registrations 1000] [--repeat 3] [--seed 1] [--no-check]

On that store (it changes it: each checkpoint adds to its newest week), one after another:

1. ``refresh_kpi`` from the newest week, every unit: what a refresh after a flush cost before;
2. ``--repeat`` times: a checkpoint's rows as the worker writes them (the defaults are one
   checkpoint at 10,000 events/s: 2 s, 20,000 events of the federal profile, which hold about
   1,700 distinct teachers and 1,000 registrations) — ``--teachers`` rows of the
   newest week taken from ``teacher_week`` with one more group message each (a higher version, as
   a new event makes it), and ``--registrations`` new registrations in the newest week of registry
   students, teachers, staff and schools — written with ``ClickHouseSink.write``, the changed users
   noted as the worker notes them, then ``refresh_kpi_changes`` timed;
3. unless ``--no-check``: ``kpi_unit_week`` against ``kpi_unit_week_compute`` of every week, row for
   row and column for column: the rows only in one of them (both 0 when the refresh is exact).

It prints figures (and the load average before and after); it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import UTC, date, datetime

from schemas.rows import EPOCH, PendingRows, RegistrationRow, TeacherWeekRow, week_date
from sinks.clickhouse import ClickHouseSink, current_snapshot_sql
from sinks.kpi import EVERY_WEEK, KPI_COLUMNS, current_snapshot, refresh_kpi
from sinks.kpi_changes import refresh_kpi_changes, week_span
from stream.core.refresh_work import RefreshWork
from stream.core.week import WeekCalendar

#: The shares of the registrations of a checkpoint, by role (the rest are schools').
REGISTRATION_MIX = (("student", 0.6), ("teacher", 0.3), ("staff", 0.05))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.kpi_refresh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default=os.environ.get("SFERUM_STORE"), help="DSN (default: SFERUM_STORE)")
    parser.add_argument("--database", default="sferum")
    parser.add_argument("--teachers", type=int, default=1_700, help="teacher_week rows per checkpoint")
    parser.add_argument("--registrations", type=int, default=1_000, help="registrations per checkpoint")
    parser.add_argument("--repeat", type=int, default=3, help="checkpoints, each refreshed and timed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-check", action="store_true", help="skip the comparison with a full recompute")
    args = parser.parse_args(argv)
    if not args.store:
        parser.error("--store or SFERUM_STORE is required")
    return args


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def sizes(sink: ClickHouseSink, snapshot: int) -> dict[str, int]:
    db = sink.database
    counts = {
        "teacher_week rows": f"SELECT count() FROM {db}.teacher_week",
        "staff_week rows": f"SELECT count() FROM {db}.staff_week",
        "registrations": f"SELECT count() FROM {db}.registrations",
        "registry teachers": f"SELECT uniqExact(teacher_id) FROM {db}.registry_teachers WHERE snapshot = {snapshot:d}",
        "registry students": f"SELECT count() FROM {db}.registry_students WHERE snapshot = {snapshot:d}",
        "schools": f"SELECT count() FROM {db}.registry_schools WHERE snapshot = {snapshot:d}",
        "municipalities": f"SELECT count() FROM {db}.registry_municipalities WHERE snapshot = {snapshot:d}",
        "regions": f"SELECT count() FROM {db}.registry_regions WHERE snapshot = {snapshot:d}",
    }
    return {name: int(sink.query_rows(sql)[0][0]) for name, sql in counts.items()}


def checkpoint(sink: ClickHouseSink, newest: date, *, teachers: int, registrations: int, seed: int) -> PendingRows:
    """A checkpoint's rows of the newest week (see the module's docstring)."""
    db, rows = sink.database, PendingRows()
    picked = sink.query_rows(
        f"SELECT week_start, teacher_id, group_chats_created, group_messages, chat_messages, calls, version "
        f"FROM {db}.teacher_week FINAL WHERE week_start = {{week:Date}} "
        f"ORDER BY cityHash64(teacher_id, {{seed:UInt64}}) LIMIT {{n:UInt64}}",
        parameters={"week": newest, "seed": seed, "n": teachers},
    )
    for week, teacher, created, group, chat, calls, version in picked:
        week_start = (week - EPOCH).days
        rows.teacher_weeks[(teacher, week_start)] = TeacherWeekRow(
            week_start, teacher, created, group + 1, chat + 1, calls, version + 1
        )
    rnd = random.Random(seed)
    start_ms = int(datetime.combine(newest, datetime.min.time(), UTC).timestamp() * 1000) + 6 * 3_600_000
    tables = {
        "student": ("registry_students", "student_id"),
        "teacher": ("registry_teachers", "teacher_id"),
        "staff": ("registry_staff", "staff_id"),
        "school": ("registry_schools", "school_id"),
    }
    left = registrations
    for role, share in (*REGISTRATION_MIX, ("school", 1.0)):
        n = left if role == "school" else round(registrations * share)
        left -= n
        table, column = tables[role]
        ids = sink.query_rows(
            f"SELECT {column} FROM {db}.{table} WHERE snapshot = {current_snapshot_sql(db)} "
            f"ORDER BY cityHash64({column}, {{seed:UInt64}}) LIMIT {{n:UInt64}}",
            parameters={"seed": seed, "n": n},
        )
        for (user_id,) in ids:
            event_id = f"bench-kpi-{seed}-{role}-{user_id}"
            ts = start_ms + rnd.randrange(5 * 86_400_000)
            by = "parent" if role == "student" and rnd.random() < 0.5 else "self"
            rows.registrations[(role, user_id, event_id)] = RegistrationRow(user_id, role, by, ts, event_id)
    return rows


def differences(sink: ClickHouseSink, snapshot: int) -> tuple[int, int]:
    """(rows of kpi_unit_week not in a full recompute, rows of the full recompute not in kpi_unit_week)."""
    db, columns = sink.database, ", ".join(KPI_COLUMNS)
    client = sink.client
    client.command("DROP TEMPORARY TABLE IF EXISTS bench_full_rows")
    client.command(
        f"CREATE TEMPORARY TABLE bench_full_rows ENGINE = Memory AS SELECT {columns} "
        f"FROM {db}.kpi_unit_week_compute(snapshot = {snapshot:d}, from_week = '{EVERY_WEEK.isoformat()}')"
    )
    try:
        stored = f"SELECT {columns} FROM {db}.kpi_unit_week"
        only_stored = sink.query_rows(f"SELECT count() FROM ({stored} EXCEPT SELECT {columns} FROM bench_full_rows)")
        only_full = sink.query_rows(f"SELECT count() FROM (SELECT {columns} FROM bench_full_rows EXCEPT {stored})")
        return int(only_stored[0][0]), int(only_full[0][0])
    finally:
        client.command("DROP TEMPORARY TABLE IF EXISTS bench_full_rows")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sink = ClickHouseSink(dsn=args.store, database=args.database)
    print(f"store {args.store} · {load()}")
    sink.ensure_schema()  # as the worker does on start: a store made before 046_kpi_changes.sql gains it
    snapshot = current_snapshot(sink)
    span = week_span(sink)
    if snapshot is None or span is None:
        print("no registry or no data in the store: load-registry and replay first")
        return
    newest = span[1]
    for name, n in sizes(sink, snapshot).items():
        print(f"  {name:>20}: {n:,}")
    print(f"  weeks {span[0]} to {newest}")

    started = time.perf_counter()
    refresh_kpi(sink, snapshot=snapshot, from_week=newest)
    print(f"(1) full refresh of week {newest}, every unit: {time.perf_counter() - started:.2f} s · {load()}")

    calendar, timings = WeekCalendar(sink.timezone), []
    for i in range(args.repeat):
        rows = checkpoint(sink, newest, teachers=args.teachers, registrations=args.registrations, seed=args.seed + i)
        sink.write(rows)
        work = RefreshWork()
        work.note_rows(rows, calendar)
        changes = {user: week_date(week) for user, week in work.users.items()}
        started = time.perf_counter()
        done = refresh_kpi_changes(sink, changes, snapshot=snapshot)
        timings.append(time.perf_counter() - started)
        print(
            f"(2) checkpoint {i + 1}: {len(rows.teacher_weeks):,} teacher_week rows, {len(rows.registrations):,} "
            f"registrations ({len(changes):,} users): incremental refresh {timings[-1]:.2f} s, "
            f"{done.units:,} units, {done.rows:,} rows"
            + (f", every unit from {done.full_from}" if done.full_from else "")
            + f" · {load()}"
        )
    if timings:
        median, low, high = statistics.median(timings), min(timings), max(timings)
        print(f"    incremental: median {median:.2f} s, min {low:.2f}, max {high:.2f}")
    if not args.no_check:
        started = time.perf_counter()
        only_stored, only_full = differences(sink, snapshot)
        print(
            f"(3) kpi_unit_week vs a full recompute of every week: {only_stored} rows only stored, "
            f"{only_full} only recomputed ({time.perf_counter() - started:.1f} s) · {load()}"
        )
    sink.close()


if __name__ == "__main__":
    main()
