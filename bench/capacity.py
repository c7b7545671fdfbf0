"""Measure the figures of the capacity plan (docs/capacity.md) that no other command prints.

    .venv/bin/python -m bench.capacity worker --broker host:port [--events N] [--partitions 4]
                                              [--flush-interval-s S] [--keep]
    .venv/bin/python -m bench.capacity store --store DSN [--optimize]

``worker``: the bench's events (``bench.data``: federal profile, steady weeks) into a fresh topic,
one ``worker --drain`` over them (``bench.run``'s W), then what that left behind: the bytes of
the input topic and of the state changelog on the broker's disks (DescribeLogDirs, before any
compaction), the changelog's records read back (written, and what a compaction would keep: the
newest record of each key, without tombstones), the worker's local state (records, users, event
ids held) and its memory (``bench.run --rss``'s figures).

``store``: rows and bytes of every table of a store (``system.parts``, active parts: compressed
and uncompressed), the rows per week of the tables kept by week (``FINAL``), and those scaled to
the federal profile of ``sferum-kpi generate`` (its registry's counts against the store's: a
store generated with ``--scale`` has that share of the schools, teachers and students, but every
region, and more municipalities than that share).

Each figure is printed as ``name = value unit``, with the load average; nothing is asserted.
Read them as what this machine did: the broker, the worker and anything else share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int16, Int32, Int64, Schema, String
from rich.console import Console

from bench.data import make_events
from bench.kafka_io import produce, read_all
from bench.procs import Spec, clean_env, start, watch
from bench.run import Bench, _interrupted, rss_per_teacher_weeks, state_records
from sinks.clickhouse import current_snapshot_sql
from stream.kafka.admin import BrokerUnavailable, end_offsets
from stream.kafka.clients import connection_to
from stream.settings import load_settings

MIB = 1024 * 1024
#: Tables whose rows belong to one week, and the column that says which (Monday of the week).
WEEK_COLUMNS = {
    "teacher_week": "week_start",
    "staff_week": "week_start",
    "kpi_unit_week_data": "week_start",
    "registrations": "toMonday(toTimeZone(ts, 'Europe/Moscow'))",
}


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line on stderr and exit 2, as ``sferum-kpi`` gives them."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m bench.capacity", description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    worker = commands.add_parser("worker", help="changelog, input topic, state and memory of one worker --drain")
    worker.add_argument("--broker", required=True, help="host:port of a broker for the bench alone")
    worker.add_argument("--events", type=int, default=300_000, help="events to produce (default 300,000)")
    worker.add_argument("--partitions", type=int, default=4, help="partitions of the fresh topics (default 4)")
    worker.add_argument(
        "--flush-interval-s", type=float, help="the worker's SFERUM_FLUSH_INTERVAL_S (default: its own, 2 s)"
    )
    worker.add_argument("--seed", type=int, default=1, help="seed of the generated events")
    worker.add_argument("--keep", action="store_true", help="keep the work directory and the run's topics")
    store = commands.add_parser("store", help="ClickHouse rows and bytes per table and per week")
    store.add_argument("--store", required=True, help="DSN of the store: chdb:///abs/path or http(s)://…")
    store.add_argument("--optimize", action="store_true", help="OPTIMIZE TABLE … FINAL every table first")
    args = parser.parse_args(argv)
    if args.command == "worker":
        if args.events < 1 or args.partitions < 1:
            parser.error("--events and --partitions must be positive")
        if args.flush_interval_s is not None and args.flush_interval_s <= 0:
            parser.error("--flush-interval-s must be positive")
    return args


# the figures' arithmetic ------------------------------------------------------------------------


@dataclass
class LogSize:
    """Records of a compacted topic as read back: all of them, and what compaction keeps."""

    records: int = 0
    total: int = 0  # bytes of the keys and values of every record
    tombstones: int = 0
    latest: dict[bytes, int] = field(default_factory=dict)  # key -> size of its newest record (0: tombstone)

    def add(self, key: bytes, value: bytes | None) -> None:
        size = len(key) + len(value or b"")
        self.records += 1
        self.total += size
        self.tombstones += value is None
        self.latest[key] = 0 if value is None else size

    @property
    def live_keys(self) -> int:
        return sum(1 for size in self.latest.values() if size)

    @property
    def live_bytes(self) -> int:
        return sum(self.latest.values())


def log_size(records: Iterable[tuple[bytes, bytes | None]]) -> LogSize:
    size = LogSize()
    for key, value in records:
        size.add(key, value)
    return size


@dataclass(frozen=True)
class StateSize:
    """A worker's state records: main records (one per user), chunk records, event ids held."""

    users: int
    chunks: int
    ids: int
    total: int  # bytes of the keys and values

    @property
    def bytes_besides_ids(self) -> float:
        """Bytes of a user's record other than its ids (9 bytes each: a msgpack uint64)."""
        return (self.total - 9 * self.ids) / self.users if self.users else 0.0


_ids_only = msgspec.msgpack.Decoder(list[int])


def state_size(records: Iterable[tuple[bytes, bytes]]) -> StateSize:
    from stream.state.codec import _state_decoder  # the codec's own reading of a main record

    users = chunks = ids = total = 0
    for key, value in records:
        total += len(key) + len(value)
        if key[:1] == b"u":
            users += 1
            ids += sum(len(week.ids) for week in _state_decoder.decode(value).weeks.values())
        else:
            chunks += 1
            ids += len(_ids_only.decode(value))
    return StateSize(users, chunks, ids, total)


def per(value: float, count: float, unit: float = 1.0) -> float:
    """``value`` per ``unit`` of ``count`` (0 when there is no count)."""
    return value / count * unit if count else 0.0


def week_rows(table_rows: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean rows per week of each table, over its weeks (``{table: {week: rows}}``)."""
    return {table: per(sum(weeks.values()), len(weeks)) for table, weeks in table_rows.items() if weeks}


def steady_week_rows(table_rows: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean rows per week of each table without its first week (a generated store's first week
    holds the registrations of everyone who joined before it)."""
    return week_rows({table: dict(sorted(weeks.items())[1:]) for table, weeks in table_rows.items()})


#: What a table's rows per week grow with: the registry's units or people.
SCALES_WITH = {
    "teacher_week": ("teachers",),
    "staff_week": ("staff",),
    "registrations": ("teachers", "students", "staff"),
    "kpi_unit_week_data": ("regions", "municipalities", "schools"),
}


def federal_factor(table: str, store: dict[str, int], federal: dict[str, int]) -> float:
    """How many times the federal profile's registry holds what a table's rows grow with."""
    kinds = SCALES_WITH[table]
    return per(sum(federal[k] for k in kinds), sum(store.get(k, 0) for k in kinds))


def federal_registry() -> dict[str, int]:
    """The registry of ``sferum-kpi generate --profile federal`` (scale 1), from its plan."""
    from stream.tools.generate.run import plan_profile

    plans = plan_profile("federal", seed=1)
    counts = {"regions": len(plans), "municipalities": sum(len(r.municipalities) for r in plans)}
    for name in ("schools", "teachers", "students", "staff"):
        counts[name] = sum(r.total(name) for r in plans)
    return counts


def sizes_by_topic(results: Iterable[tuple[Any, ...]]) -> dict[str, int]:
    """Bytes per topic on the broker's disks, from DescribeLogDirs v1 results:
    ``(error_code, log_dir, [(topic, [(partition, size, offset_lag, is_future), ...]), ...])``.
    Every replica counts (a topic of replication factor 3 takes three times its size)."""
    sizes: dict[str, int] = {}
    for error_code, _log_dir, topics in results:
        if error_code:
            continue
        for name, partitions in topics:
            sizes[name] = sizes.get(name, 0) + sum(int(p[1]) for p in partitions if not p[3])
    return sizes


# DescribeLogDirs (API key 35, v1): aiokafka's admin client has no call for it ---------------------


class DescribeLogDirsResponse_v1(Response):  # type: ignore[misc]
    API_KEY = 35
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            Array(
                ("error_code", Int16),
                ("log_dir", String("utf-8")),
                (
                    "topics",
                    Array(
                        ("name", String("utf-8")),
                        (
                            "partitions",
                            Array(
                                ("partition_index", Int32),
                                ("partition_size", Int64),
                                ("offset_lag", Int64),
                                ("is_future_key", Boolean),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    )


class DescribeLogDirsRequest_v1(RequestStruct):  # type: ignore[misc]
    API_KEY = 35
    API_VERSION = 1
    RESPONSE_TYPE = DescribeLogDirsResponse_v1
    SCHEMA = Schema(("topics", Array(("topic", String("utf-8")), ("partitions", Array(Int32)))))


class DescribeLogDirsRequest(Request[DescribeLogDirsRequest_v1]):  # type: ignore[misc]
    API_KEY = 35

    def __init__(self, topics: dict[str, list[int]]) -> None:
        self._topics = topics

    def build(self, request_struct_class: type[DescribeLogDirsRequest_v1]) -> DescribeLogDirsRequest_v1:
        return request_struct_class(list(self._topics.items()))


def topic_disk_bytes(broker: str, topics: dict[str, list[int]]) -> dict[str, int]:
    """Bytes of the topics' partitions on the disks of every broker (each replica counted)."""

    async def ask() -> dict[str, int]:
        admin = AIOKafkaAdminClient(**connection_to(broker))
        await admin.start()
        try:
            metadata = await admin.describe_cluster()
            results: list[tuple[Any, ...]] = []
            for node in metadata["brokers"]:
                response = await admin._send_request_to_node(node["node_id"], DescribeLogDirsRequest(topics))
                results.extend(response.results)
            return sizes_by_topic(results)
        finally:
            await admin.close()

    return asyncio.run(ask())


def read_log(broker: str, topic: str) -> LogSize:
    """Every committed record of a topic, from its beginning to its end now."""
    offsets = asyncio.run(end_offsets(load_settings(broker=broker), [topic]))

    async def read() -> LogSize:
        consumer = AIOKafkaConsumer(
            **connection_to(broker), group_id=None, enable_auto_commit=False, isolation_level="read_committed"
        )
        await consumer.start()
        size = LogSize()
        try:
            async for records in read_all(consumer, offsets):
                for record in records:
                    size.add(record.key or b"", record.value)
        finally:
            await consumer.stop()
        return size

    return asyncio.run(read())


def counted_events(path: Path) -> tuple[int, int]:
    """(activity of teachers and staff, registrations) in an NDJSON file: the events that change
    a user's state (students' and parents' activity is ignored: no state, no changelog record)."""
    activity = registrations = 0
    with path.open("rb") as lines:
        for line in lines:
            event = orjson.loads(line)
            if event["type"] == "registered":
                registrations += 1
            elif event["role"] in ("teacher", "staff"):
                activity += 1
    return activity, registrations


# printing ---------------------------------------------------------------------------------------


def figure(name: str, value: float, unit: str, note: str = "") -> None:
    text = f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.3g}"
    print(f"{name} = {text} {unit}" + (f"  ({note})" if note else ""), flush=True)


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# worker -----------------------------------------------------------------------------------------


def measure_worker(args: argparse.Namespace, workdir: Path, console: Console) -> None:
    bench_args = argparse.Namespace(broker=args.broker, partitions=args.partitions, events=args.events)
    bench = Bench(bench_args, workdir, console)
    try:
        _measure_worker(args, bench)
    finally:
        bench.clean_up(keep=args.keep)


def _measure_worker(args: argparse.Namespace, bench: Bench) -> None:
    print(f"machine: {os.cpu_count()} cores; load average (1/5/15 min) before: {load_average()}", flush=True)
    bench.say(f"generating {args.events:,} events")
    data = make_events(args.events, bench.workdir, seed=args.seed)
    activity, registrations = counted_events(data.path)
    bench.say(f"producing to {bench.topic} ({args.partitions} partitions)")
    produce(bench.settings, data.path, bench.topic)
    extra = {} if args.flush_interval_s is None else {"SFERUM_FLUSH_INTERVAL_S": str(args.flush_interval_s)}
    bench.say("W: worker --drain")
    measure, runs = bench.workers(1, data.events, extra)
    changelog = f"{bench.run_id}-w1-state-changelog"
    partitions = list(range(args.partitions))
    disk = topic_disk_bytes(args.broker, {bench.topic: partitions, changelog: partitions})
    log = read_log(args.broker, changelog)
    rows = bench.teacher_weeks("w1")
    state_dir = bench.workdir / "w1" / "data" / "state"
    rss = rss_per_teacher_weeks(runs[0], rows, state_dir)
    state = state_size(state_records(state_dir))

    n = data.events
    flush = args.flush_interval_s or load_settings().flush_interval_s
    print(
        f"events: {n:,} (federal profile, scale {data.scale:.4f}, steady weeks; {data.users:,} keys); "
        f"{activity:,} of teachers' and staff's activity, {registrations:,} registrations; "
        f"topics of {args.partitions} partitions; checkpoint every {flush:g} s",
        flush=True,
    )
    figure("events with a state change", per(activity + registrations, n, 100), "% of events")
    figure("worker events/s (wall, startup and exit included)", measure.rate, "events/s")
    if measure.processing_rate is not None:
        figure("worker events/s (first event to last consumed)", measure.processing_rate, "events/s")
    figure("worker startup (to its first event)", measure.startup_s or 0.0, "s")
    figure("worker CPU", per(measure.cpu_s or 0.0, measure.wall_s, 100), "% of one core over its wall time")
    figure("worker peak RSS", rss.peak_rss / MIB, "MiB")
    figure("worker RSS at its first event", rss.rss_at_first_event / MIB, "MiB")
    figure("live teacher-weeks (teacher_week rows of the newest 2 weeks)", rss.live_teacher_weeks, "rows")
    figure("RSS growth after the first event per 100,000 live teacher-weeks", rss.growth_per_100k / MIB, "MiB")
    figure("input message value", per(data.path.stat().st_size, n), "bytes/event", "the NDJSON line, newline included")
    figure("input topic on the broker's disks", per(disk.get(bench.topic, 0), n), "bytes/event", "as produced")
    figure("changelog records written", per(log.records, n), "records/event", f"{log.records:,} records")
    figure(
        "changelog records written per state-changing event",
        per(log.records, activity + registrations),
        "records/event",
    )
    figure("changelog bytes written (keys + values)", per(log.total, n), "bytes/event", "before compaction")
    figure("changelog record, mean", per(log.total, log.records), "bytes/record")
    figure(
        "changelog on the broker's disks",
        per(disk.get(changelog, 0), n),
        "bytes/event",
        f"{disk.get(changelog, 0) / MIB:,.1f} MiB; before compaction (active segments are never compacted)",
    )
    figure(
        "changelog after compaction (newest record of each key, keys + values)",
        per(log.live_bytes, n),
        "bytes/event",
        f"{log.live_keys:,} keys, {log.live_bytes / MIB:,.2f} MiB, {log.tombstones:,} tombstones written",
    )
    figure("state records (local stores)", state.total / MIB, "MiB", f"{state.users:,} users, {state.chunks:,} chunks")
    figure("state per live teacher-week", per(state.total, rss.live_teacher_weeks), "bytes")
    figure("state event ids held", state.ids, "ids", "9 bytes each")
    figure("state record besides its ids", state.bytes_besides_ids, "bytes/user")
    print(f"load average (1/5/15 min) after: {load_average()}", flush=True)


# store ------------------------------------------------------------------------------------------


def sql_rows(dsn: str, query: str, workdir: Path) -> list[dict[str, Any]]:
    """``sferum-kpi sql`` in a child (an embedded store is one process's), as JSON rows."""
    argv = [sys.executable, "-m", "stream", "sql", "--store", dsn, "--format", "JSONEachRow", query]
    run = watch([start(Spec(argv, clean_env({}), workdir / "sql.log"))])[0]
    if run.returncode != 0:
        raise RuntimeError(f"sferum-kpi sql exited with {run.returncode}: {run.tail(3)}")
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def measure_store(args: argparse.Namespace, workdir: Path) -> None:
    print(f"machine: {os.cpu_count()} cores; load average (1/5/15 min): {load_average()}", flush=True)
    tables = "sferum.teacher_week, sferum.staff_week, sferum.registrations, sferum.kpi_unit_week_data"
    if args.optimize:
        for table in tables.split(", "):
            sql_rows(args.store, f"OPTIMIZE TABLE {table} FINAL", workdir)
    parts = sql_rows(
        args.store,
        "SELECT table, sum(rows) AS rows, count() AS parts, sum(data_compressed_bytes) AS compressed, "
        "sum(data_uncompressed_bytes) AS uncompressed, sum(bytes_on_disk) AS on_disk FROM system.parts "
        "WHERE active AND database = 'sferum' GROUP BY table ORDER BY on_disk DESC",
        workdir,
    )
    union = " UNION ALL ".join(
        f"SELECT '{table}' AS table, toString({column}) AS week, count() AS rows FROM sferum.{table} FINAL "
        f"GROUP BY week"
        for table, column in WEEK_COLUMNS.items()
    )
    by_week: dict[str, dict[str, int]] = {table: {} for table in WEEK_COLUMNS}
    for row in sql_rows(args.store, union, workdir):
        by_week[row["table"]][row["week"]] = int(row["rows"])
    registry = " UNION ALL ".join(
        f"SELECT '{name}' AS kind, count() AS n FROM sferum.registry_{name} "
        f"WHERE snapshot = {current_snapshot_sql('sferum')}"
        for name in ("regions", "municipalities", "schools", "teachers", "students", "staff")
    )
    store_units = {row["kind"]: int(row["n"]) for row in sql_rows(args.store, registry, workdir)}
    federal = federal_registry()
    print(f"store: {args.store}; its registry: " + ", ".join(f"{n:,} {k}" for k, n in store_units.items()))
    print(
        "federal profile's registry (sferum-kpi generate --profile federal): "
        + ", ".join(f"{n:,} {k}" for k, n in federal.items())
    )
    for part in parts:
        table, rows = part["table"], int(part["rows"])
        compressed, uncompressed = int(part["compressed"]), int(part["uncompressed"])
        print(
            f"table {table}: {rows:,} rows in {int(part['parts'])} active parts; "
            f"{compressed / MIB:,.2f} MiB compressed, {uncompressed / MIB:,.2f} MiB uncompressed, "
            f"{int(part['on_disk']) / MIB:,.2f} MiB on disk",
            flush=True,
        )
        if rows:
            figure(f"{table} compressed", per(compressed, rows), "bytes/row")
            figure(f"{table} uncompressed", per(uncompressed, rows), "bytes/row")
    steady = steady_week_rows(by_week)
    for table, weeks in by_week.items():
        part = next((p for p in parts if p["table"] == table), {})
        if not weeks or not int(part.get("rows", 0)):
            continue
        stored = int(part["rows"])
        final = sum(weeks.values())
        weekly = steady.get(table) or week_rows({table: weeks})[table]
        row_compressed = per(int(part["compressed"]), stored)
        row_uncompressed = per(int(part["uncompressed"]), stored)
        note = f"{len(weeks)} weeks, {final:,} rows FINAL of {stored:,} stored; without the first week"
        factor = federal_factor(table, store_units, federal)
        figure(f"{table} rows per week", weekly, "rows", note)
        figure(
            f"{table} rows per week, federal",
            weekly * factor,
            "rows",
            f"× {factor:.2f}: {'+'.join(SCALES_WITH[table])}",
        )
        figure(f"{table} per week, federal, compressed", weekly * factor * row_compressed / MIB, "MiB")
        figure(f"{table} per week, federal, uncompressed", weekly * factor * row_uncompressed / MIB, "MiB")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=160, stderr=True)
    workdir = Path(tempfile.mkdtemp(prefix="sferum-capacity-"))
    signal.signal(signal.SIGTERM, _interrupted)
    started = time.perf_counter()
    try:
        if args.command == "worker":
            measure_worker(args, workdir, console)
        else:
            measure_store(args, workdir)
    except BrokerUnavailable as exc:
        print(f"python -m bench.capacity: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("python -m bench.capacity: interrupted", file=sys.stderr)
        return 130
    finally:
        if args.command == "store":
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"took {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
