"""Fault injection for the worker (issue "Reliability"): crashes, a rebalance with a dead member, a
ClickHouse outage and a broker restart, each checked against the independent oracle
(``tests/support/oracle.py``): ``teacher_week FINAL``, ``staff_week FINAL`` and ``registrations
FINAL`` must equal it row for row, every expected dead letter must be in the dead-letter topic, and
the indicators view ``kpi_unit_week`` must equal the independent KPI oracle
(``tests/support/kpi_oracle.py``) computed from the oracle's rows and the registry
(``tests/support/gen_registry.py``) that ``load-registry`` loads into every store before a worker
starts, so the indicators the workers refresh as they go are what is checked.

Used by ``tests/integration/test_faults.py`` at CI size and runnable at full size::

    python -m tests.tools.faults crash --events 200000 --kills 5 --broker 127.0.0.1:59092
    python -m tests.tools.faults rebalance|outage|broker-restart --events N --broker HOST:PORT

Every scenario uses one mixed input topic, so Kafka orders each user's events exactly as the
file does and the oracle, which reads the file in order, is the truth for any interleaving of
partitions. Each run has its own app id (consumer group), topics, data dir and embedded store.

How the faults are made, and why they are honest:

* crash: ``SIGKILL`` of the real ``python -m stream worker`` process, restarted with the same
  app id, data dir (RocksDB state) and store; ``worker --drain`` finishes the input.
* rebalance: two real workers in one consumer group; one joins while the other runs (its
  partitions are revoked live), then the first is SIGKILLed and the survivor takes over.
* store outage: every directory of the embedded ClickHouse is made immutable (``chattr +i``),
  which makes the real engine's inserts fail with EPERM even for root (``chmod`` does not stop
  root); nothing is faked, the worker's own chDB sees its writes refused.
* broker restart: ``deploy/local/kafka.sh restart`` (or ``kill`` + ``start``) of the broker the
  worker is connected to.

The generated events span 10 weeks (``--weeks``) rather than the 6 of the other integration
tests: with 40,000 events that puts about a week of event time in 4,000 events, so a worker that
is catching up has more than the 7-day lateness between its last commit and a fault.

The workers' group session timeout (``SFERUM_SESSION_TIMEOUT_S``) is how long the group waits for
a SIGKILLed member before a restarted or surviving worker gets its partitions. The scenarios set
6 s (the broker's minimum) so that several crashes fit in a CI run; the counting does not
depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from sinks.clickhouse import ClickHouseSink
from stream.kafka.clients import connection_to
from stream.tools.ndjson import routing_of
from tests.support.eventgen import GenConfig, generate
from tests.support.gen_registry import Registry, registry_for
from tests.support.hotkey import hot_key_lines
from tests.support.kpi_dataset import write_registry
from tests.support.kpi_oracle import COLUMNS as KPI_COLUMNS
from tests.support.kpi_oracle import LIST_COLUMNS as KPI_LIST_COLUMNS
from tests.support.kpi_oracle import kpi_unit_week, same_value
from tests.support.oracle import Expected, expected
from tests.support.paths import CLI, KAFKA_SH, ROOT
from tests.support.ports import free_port, port_open
from tests.support.readers import read_staff_week, read_tables

#: Settings every worker of a scenario gets on top of its own (see the module docstring).
WORKER_SETTINGS: dict[str, str] = {"SFERUM_SESSION_TIMEOUT_S": "6"}
TEACHER_WEEK_ALL = (
    "week_start",
    "teacher_id",
    "group_chats_created",
    "group_messages",
    "chat_messages",
    "calls",
    "version",
    "flushed_at",
)
STAFF_WEEK_ALL = ("user_id", *TEACHER_WEEK_ALL[2:])
STAFF_WEEK_ALL = (TEACHER_WEEK_ALL[0], *STAFF_WEEK_ALL)
REGISTRATION_ALL = ("role", "user_id", "registered_by", "ts", "event_id")
#: What the worker logs when ClickHouse refuses a write (it retries the same rows).
STORE_FAILED = "writing rows to ClickHouse failed"

TeacherWeek = dict[tuple[date, str], tuple[int, ...]]
KpiRows = dict[tuple[date, str, str], dict[str, Any]]


class FaultError(AssertionError):
    """A scenario could not do what it needs (a worker died unasked, a wait timed out)."""


# Kafka probes ------------------------------------------------------------------------------------


async def _admin(broker: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**connection_to(broker, request_timeout_ms=10_000))
    await admin.start()
    return admin


def create_topic(broker: str, topic: str, partitions: int) -> None:
    async def run() -> None:
        admin = await _admin(broker)
        try:
            await admin.create_topics([NewTopic(topic, partitions, 1)])
        finally:
            await admin.close()

    asyncio.run(run())


def committed(broker: str, group: str) -> dict[int, int]:
    """Committed offset per partition of the group (absent: nothing committed yet)."""

    async def run() -> dict[int, int]:
        admin = await _admin(broker)
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    for attempt in range(3):
        try:
            return asyncio.run(run())
        except Exception:  # the broker is restarting; the callers wait on the answer
            if attempt < 2:
                time.sleep(0.5)
    return {}


def end_offsets(broker: str, topic: str, partitions: int) -> dict[int, int]:
    async def run() -> dict[int, int]:
        consumer = AIOKafkaConsumer(**connection_to(broker, request_timeout_ms=10_000))
        await consumer.start()
        try:
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        finally:
            await consumer.stop()
        return {tp.partition: offset for tp, offset in ends.items()}

    return asyncio.run(run())


def group_state(broker: str, group: str) -> tuple[str, frozenset[str]]:
    """(state, member ids) of a consumer group; ("?", {}) when the broker does not answer."""

    async def run() -> tuple[str, frozenset[str]]:
        admin = await _admin(broker)
        try:
            response = await admin.describe_consumer_groups([group])
        finally:
            await admin.close()
        described = response[0].groups[0]
        return str(described[2]), frozenset(str(member[0]) for member in described[5])

    try:
        return asyncio.run(run())
    except Exception:
        return "?", frozenset()


def read_topic(broker: str, topic: str, partitions: int) -> list[tuple[bytes, dict[str, str]]]:
    """Every committed message of a topic up to its end now: (value, headers). Read as
    ``read_committed``: the worker writes dead letters in transactions, and a transaction it
    aborted (a checkpoint that failed, or a fenced member's) is not part of the topic's content."""

    async def run() -> list[tuple[bytes, dict[str, str]]]:
        consumer = AIOKafkaConsumer(
            **connection_to(broker, request_timeout_ms=10_000), group_id=None, isolation_level="read_committed"
        )
        await consumer.start()
        got: list[tuple[bytes, dict[str, str]]] = []
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        deadline = time.monotonic() + 120
        try:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)  # the last stable offsets
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                if time.monotonic() > deadline:
                    raise FaultError(f"could not read {topic} to its end {ends}")
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    got.extend((r.value, {k: v.decode() for k, v in r.headers}) for r in records)
        finally:
            await consumer.stop()
        return got

    return asyncio.run(run())


def wait_for(what: str, predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> float:
    """Wait until ``predicate()``; returns the seconds waited; raises FaultError on timeout."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise FaultError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


# Producer and workers ----------------------------------------------------------------------------


class Producer(threading.Thread):
    """Sends the lines in order, keyed by ``user_id`` as ``sferum-kpi produce`` keys them, paced to
    take about ``seconds``: a live stream that keeps coming while faults happen. One idempotent
    producer with acks=all sends in order, so a partition holds each user's lines in file order.

    ``transactional`` (``soak --transactional-input`` sets it for every producer of a run): each
    chunk is sent in one Kafka transaction, as a producer upstream that writes in transactions
    does; each leaves a marker in every partition it wrote to."""

    transactional = False

    def __init__(
        self,
        broker: str,
        topic: str,
        lines: list[bytes],
        seconds: float,
        chunk: int = 500,
        *,
        holds: tuple[float, ...] = (),
    ) -> None:
        """``holds``: shares of the lines at which the producer stops until ``release()`` is called
        (once per hold): whatever the machine's speed, a scenario has input coming at each stage."""
        super().__init__(daemon=True, name="fault-producer")
        self.broker, self.topic, self.lines, self.seconds, self.chunk = broker, topic, lines, seconds, chunk
        self.sent = 0
        self.error: BaseException | None = None
        self._holds = [int(len(lines) * share) // chunk * chunk for share in holds]
        self._releases = threading.Semaphore(0)
        self._released_all = False

    def release(self) -> None:
        """Let the producer go on past its next hold."""
        self._releases.release()

    def release_all(self) -> None:
        self._released_all = True
        for _ in range(len(self._holds) + 1):
            self._releases.release()

    def run(self) -> None:
        try:
            asyncio.run(self._send())
        except BaseException as exc:  # reported by finish()
            self.error = exc

    async def _send(self) -> None:
        transactional_id = f"faults-producer-{self.topic}-{id(self)}" if self.transactional else None
        producer = AIOKafkaProducer(
            **connection_to(self.broker),
            enable_idempotence=True,
            acks="all",
            linger_ms=20,
            transactional_id=transactional_id,
        )
        await producer.start()
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            total = len(self.lines)
            holds = list(self._holds)
            for i in range(0, total, self.chunk):
                while holds and i >= holds[0]:
                    holds.pop(0)
                    await loop.run_in_executor(None, self._releases.acquire)
                    started = loop.time() - self.seconds * self.sent / total  # the pace resumes from here
                part = self.lines[i : i + self.chunk]
                if self.transactional:
                    await producer.begin_transaction()
                futures = [await producer.send(self.topic, line, key=routing_of(line)[0]) for line in part]
                await asyncio.gather(*futures)
                if self.transactional:
                    await producer.commit_transaction()
                self.sent = i + len(part)
                delay = started + self.seconds * self.sent / total - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            await producer.stop()

    def finish(self, timeout: float = 600) -> None:
        self.release_all()
        self.join(timeout)
        if self.is_alive():
            raise FaultError("the producer did not finish")
        if self.error is not None:
            raise FaultError(f"the producer failed: {self.error!r}")
        if self.sent != len(self.lines):
            raise FaultError(f"the producer sent {self.sent} of {len(self.lines)} lines")


#: Every worker process started, so that a scenario that fails leaves none running.
_STARTED: list[Worker] = []


def kill_leftover_workers() -> None:
    while _STARTED:
        worker = _STARTED.pop()
        if worker.alive:
            worker.kill()


class Worker:
    """One ``python -m stream worker`` process, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path, *, drain: bool = False, log_level: str = "warning") -> None:
        # the Kafka connection's settings (SFERUM_KAFKA_*: TLS, SASL) are the scenario's too
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_") or k.startswith("SFERUM_KAFKA_")}
        self.log = log
        self._out = log.open("ab")
        args = [*CLI, "--log-level", log_level, "worker", *(["--drain"] if drain else [])]
        self.proc = subprocess.Popen(args, env=clean | env, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        _STARTED.append(self)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int:
        """SIGKILL; returns the exit status (-9 if it was alive)."""
        if self.alive:
            self.proc.send_signal(signal.SIGKILL)
        return self.wait(30)

    def freeze(self) -> None:
        """SIGSTOP: the process stops dead, its connections open (as a VM paused, or a GC pause)."""
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def terminate(self, timeout: float = 60) -> int:
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def wait(self, timeout: float | None = None) -> int:
        code = self.proc.wait(timeout)
        if not self._out.closed:
            self._out.close()
        return code

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_bytes()[-chars:].decode(errors="replace")


# Scenario ----------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """A generated event set, its oracle, and the names of one run."""

    broker: str
    base: Path
    name: str
    lines: list[bytes]
    truth: Expected
    registry: Registry
    partitions: int = 4

    @classmethod
    def create(
        cls,
        broker: str,
        base: Path,
        *,
        events: int,
        seed: int,
        partitions: int = 4,
        weeks: int = 10,
        lines: list[bytes] | None = None,
    ) -> Scenario:
        """The generated set of ``events`` lines (or ``lines`` as given), its oracle and registry."""
        config = GenConfig(events=events, seed=seed, weeks=weeks, municipality_accounts=True)
        lines = generate(config) if lines is None else lines
        name = f"fault{os.getpid()}x{time.time_ns() % 10**12}"
        base.mkdir(parents=True, exist_ok=True)
        (base / "events.ndjson").write_bytes(b"\n".join(lines) + b"\n")
        truth = expected(lines, now_ms=int(time.time() * 1000))
        scenario = cls(broker, base, name, lines, truth, registry_for(config), partitions)
        write_registry(scenario.registry, base / "registry")
        create_topic(broker, scenario.topic, partitions)
        return scenario

    @property
    def topic(self) -> str:
        return f"{self.name}.events"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.name}.dead-letter"

    def store(self, node: str = "a") -> str:
        return f"chdb://{self.base / f'store-{node}'}"

    def env(self, node: str = "a", **extra: str) -> dict[str, str]:
        """Settings of one worker node: its own data dir, store and web port; the shared group."""
        return {
            "SFERUM_BROKER": self.broker,
            "SFERUM_APP_ID": self.name,
            "SFERUM_INPUT_TOPICS": self.topic,
            "SFERUM_DEAD_LETTER_TOPIC": self.dead_letter_topic,
            "SFERUM_PARTITIONS": str(self.partitions),
            "SFERUM_DATA_DIR": str(self.base / f"data-{node}"),
            "SFERUM_STORE": self.store(node),
            "SFERUM_WEB_PORT": str(free_port()),
            **WORKER_SETTINGS,
            **extra,
        }

    def load_registry(self, store: str) -> None:
        """``sferum-kpi load-registry`` of the scenario's registry into a store (no worker may have
        it open): the indicators of every week are computed for it, and kept current by the
        workers from then on."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_")}
        done = subprocess.run(
            [*CLI, "load-registry", "--store", store, str(self.base / "registry")],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise FaultError(f"load-registry into {store} failed:\n{done.stderr[-3000:]}")

    def worker(self, node: str = "a", *, drain: bool = False, log_level: str = "warning", **extra: str) -> Worker:
        return Worker(self.env(node, **extra), self.base / f"worker-{node}.log", drain=drain, log_level=log_level)

    def produce_all(self) -> None:
        producer = Producer(self.broker, self.topic, self.lines, seconds=0)
        producer.start()
        producer.finish()

    def committed_total(self) -> int:
        return sum(committed(self.broker, self.name).values())

    def ends(self) -> dict[int, int]:
        return end_offsets(self.broker, self.topic, self.partitions)

    def fully_committed(self) -> bool:
        done = committed(self.broker, self.name)
        return all(done.get(p, 0) >= end for p, end in self.ends().items())

    def members(self) -> frozenset[str]:
        return group_state(self.broker, self.name)[1]

    def assigned(self, members: int = 1, old: frozenset[str] = frozenset()) -> bool:
        """The group is stable with exactly ``members`` members, none of them in ``old`` (members
        of killed workers stay in the group until their session times out): partitions are
        assigned to the live workers."""
        state, ids = group_state(self.broker, self.name)
        return state == "Stable" and len(ids) == members and not ids & old


# Verdict -----------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The result read back from a store, compared with the oracle."""

    teacher_week: TeacherWeek
    registrations: set[tuple[str, str, str, int, str]]
    truth: Expected
    staff_week: TeacherWeek = field(default_factory=dict)
    #: ``kpi_unit_week`` as the store has it, and as the KPI oracle computes it from the truth
    kpi: KpiRows = field(default_factory=dict)
    kpi_truth: KpiRows = field(default_factory=dict)
    conflicting_versions: list[tuple[Any, ...]] = field(default_factory=list)
    raw_rows: int = 0
    dead_letters_missing: Counter[tuple[bytes, str]] = field(default_factory=Counter)
    dead_letters_unexpected: Counter[tuple[bytes, str]] = field(default_factory=Counter)
    dead_letters_extra_copies: int = 0
    #: Events the oracle counted, dead-lettered as ``late``: what a re-read after a fault on a state
    #: ahead of the committed offsets would do (the user's stream time past them).
    dead_letters_late_rereads: Counter[tuple[bytes, str]] = field(default_factory=Counter)

    @property
    def exact(self) -> bool:
        return (
            self.teacher_week == self.truth.teacher_week
            and self.staff_week == self.truth.staff_week
            and self.registrations == self.truth.registrations
            and not self.conflicting_versions
            and self.kpi_exact
        )

    @property
    def kpi_exact(self) -> bool:
        return bool(self.kpi_truth) and not self.kpi_differences(1)

    def kpi_differences(self, limit: int) -> list[str]:
        """(week, unit, column) values of ``kpi_unit_week`` that differ from the KPI oracle."""
        out: list[str] = []
        for key in sorted(set(self.kpi) | set(self.kpi_truth)):
            got, want = self.kpi.get(key), self.kpi_truth.get(key)
            if got is None or want is None:
                out.append(f"kpi_unit_week {key}: {'missing from the store' if got is None else 'not expected'}")
            else:
                out += [
                    f"kpi_unit_week {key} {column}: store {got[column]} oracle {want[column]}"
                    for column in KPI_COLUMNS + KPI_LIST_COLUMNS
                    if not same_value(got[column], want[column])
                ]
            if len(out) >= limit:
                break
        return out

    @property
    def dead_letters_ok(self) -> bool:
        """Exactly once: every expected dead letter, each once, and nothing else."""
        return (
            not self.dead_letters_missing
            and not self.dead_letters_unexpected
            and not self.dead_letters_late_rereads
            and self.dead_letters_extra_copies == 0
        )

    def differences(self, limit: int = 20) -> list[str]:
        """What differs from the oracle, row by row (first ``limit``)."""
        out = []
        want, got = self.truth.teacher_week, self.teacher_week
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                out.append(f"teacher_week {key[0]} {key[1]}: store {got.get(key)} oracle {want.get(key)}")
        want, got = self.truth.staff_week, self.staff_week
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                out.append(f"staff_week {key[0]} {key[1]}: store {got.get(key)} oracle {want.get(key)}")
        regs = self.truth.registrations
        out += [f"registration missing {r}" for r in sorted(regs - self.registrations)]
        out += [f"registration extra {r}" for r in sorted(self.registrations - regs)]
        out += [f"rows with one version and different counts: {row}" for row in self.conflicting_versions]
        out += self.kpi_differences(limit)
        return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


def read_kpi(store: str) -> KpiRows:
    """``kpi_unit_week``, by (week_start, unit_kind, unit_id)."""
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:
        result = sink.client.query("SELECT * FROM sferum.kpi_unit_week")
        rows = [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
    finally:
        sink.close()
    return {(r["week_start"], r["unit_kind"], r["unit_id"]): r for r in rows}


def verdict(store: str, scenario: Scenario, *, dead_letters: bool = True) -> Verdict:
    """Read the store (no worker may have it open) and the dead-letter topic; compare."""
    teacher_week, registrations = read_tables(store)
    staff_week = read_staff_week(store)
    kpi = read_kpi(store)
    truth = scenario.truth
    kpi_truth = kpi_unit_week(scenario.registry, truth.teacher_week, truth.registrations, truth.staff_week)
    sink = ClickHouseSink(dsn=store, database="sferum")
    try:
        # The same version of a row must always carry the same counts: a version is the number of
        # distinct events applied, and a user's events come in one order. Two writes of one
        # version with different counts would make FINAL pick one of them arbitrarily.
        conflicting = list(
            sink.query_rows(
                "SELECT week_start, teacher_id, version, groupUniqArray((group_chats_created, group_messages, "
                "chat_messages, calls)) AS counts FROM sferum.teacher_week "
                "GROUP BY week_start, teacher_id, version HAVING length(counts) > 1 LIMIT 20"
            )
        )
        raw = int(sink.query_rows("SELECT count() FROM sferum.teacher_week")[0][0])
    finally:
        sink.close()
    result = Verdict(teacher_week, registrations, truth, staff_week, kpi, kpi_truth, conflicting, raw)
    if dead_letters:
        want = Counter((scenario.lines[i], reason) for i, reason in scenario.truth.rejected_lines.items())
        got = Counter(
            (value, headers.get("reason", "?"))
            for value, headers in read_topic(scenario.broker, scenario.dead_letter_topic, scenario.partitions)
        )
        # Exactly once: dead letters are written in the transaction that commits their offsets.
        # Extra copies and counted events dead-lettered as late are reported apart from the rest.
        accepted = {line for i, line in enumerate(scenario.lines) if i not in scenario.truth.rejected_lines}
        result.dead_letters_missing = want - got
        unexpected = {k: n for k, n in got.items() if k not in want}
        result.dead_letters_late_rereads = Counter(
            {k: n for k, n in unexpected.items() if k[1] == "late" and k[0] in accepted}
        )
        result.dead_letters_unexpected = Counter(
            {k: n for k, n in unexpected.items() if k not in result.dead_letters_late_rereads}
        )
        result.dead_letters_extra_copies = sum((got - want).values()) - sum(unexpected.values())
    return result


def merge_stores(sources: list[str], target: str) -> tuple[int, list[tuple[Any, ...]]]:
    """Copy every row version of ``teacher_week``, ``staff_week`` and ``registrations`` from the sources into a
    fresh store. One store is open at a time. Returns the teacher_week rows copied and the
    (week, teacher, version) written with different counts across all the sources (checked on
    the union before background merges of the target can drop any version)."""
    teacher_weeks: list[Any] = []
    staff_weeks: list[Any] = []
    registrations: list[Any] = []
    for dsn in sources:
        sink = ClickHouseSink(dsn=dsn, database="sferum")
        try:
            teacher_weeks += sink.query_rows(f"SELECT {', '.join(TEACHER_WEEK_ALL)} FROM sferum.teacher_week")
            staff_weeks += sink.query_rows(f"SELECT {', '.join(STAFF_WEEK_ALL)} FROM sferum.staff_week")
            registrations += sink.query_rows(f"SELECT {', '.join(REGISTRATION_ALL)} FROM sferum.registrations")
        finally:
            sink.close()
    counts: dict[tuple[Any, ...], set[tuple[Any, ...]]] = {}
    for row in teacher_weeks:
        counts.setdefault((row[0], row[1], row[6]), set()).add(tuple(row[2:6]))
    conflicts = [(*key, sorted(found)) for key, found in counts.items() if len(found) > 1]
    sink = ClickHouseSink(dsn=target, database="sferum")
    try:
        sink.ensure_schema()
        if teacher_weeks:
            sink.client.insert("sferum.teacher_week", teacher_weeks, column_names=TEACHER_WEEK_ALL)
        if staff_weeks:
            sink.client.insert("sferum.staff_week", staff_weeks, column_names=STAFF_WEEK_ALL)
        if registrations:
            sink.client.insert("sferum.registrations", registrations, column_names=REGISTRATION_ALL)
    finally:
        sink.close()
    return len(teacher_weeks), conflicts


# Faults ------------------------------------------------------------------------------------------


def store_directories(store: str) -> list[Path]:
    root = Path(store.removeprefix("chdb://"))
    return [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]


def _chattr(flag: str, paths: list[Path]) -> None:
    for i in range(0, len(paths), 200):
        subprocess.run(["chattr", flag, *map(str, paths[i : i + 200])], check=True, capture_output=True)


def can_freeze(base: Path) -> str | None:
    """None if ``chattr +i`` works here (root with CAP_LINUX_IMMUTABLE on a file system that has
    the attribute), else why not."""
    probe = base / "chattr-probe"
    probe.mkdir(parents=True, exist_ok=True)
    try:
        _chattr("+i", [probe])
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"chattr +i is not available here: {getattr(exc, 'stderr', b'') or exc!r}"
    try:
        (probe / "x").mkdir()
        return "chattr +i does not stop this user from writing"
    except OSError:
        return None
    finally:
        _chattr("-i", [probe])


@contextmanager
def frozen_store(store: str) -> Iterator[list[Path]]:
    """The embedded store's directories made immutable: no file can be created, renamed or
    removed in them, so every insert fails in the engine itself. Always undone on exit."""
    paths = store_directories(store)
    try:
        _chattr("+i", paths)
        yield paths
    finally:
        _chattr("-i", store_directories(store))


def _port_open(broker: str) -> bool:
    host, port = broker.rsplit(":", 1)
    return port_open(host, int(port))


def kafka_sh(broker: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``deploy/local/kafka.sh`` for this broker. The broker keeps the real time when the tests run
    with a moved clock (libfaketime's variables are not passed on)."""
    port = broker.rsplit(":", 1)[1]
    moved_clock = ("LD_PRELOAD", "FAKETIME")
    env = {k: v for k, v in os.environ.items() if k not in moved_clock} | {"SFERUM_KAFKA_PORT": port}
    return subprocess.run(["bash", str(KAFKA_SH), *args], env=env, capture_output=True, text=True, timeout=300)


# Scenarios ---------------------------------------------------------------------------------------


@dataclass
class Report:
    scenario: str
    events: int
    runs: int = 0  # worker processes started
    faults: int = 0  # faults injected
    seconds: float = 0.0
    survived: bool | None = None  # did the worker get through the fault by itself
    notes: list[str] = field(default_factory=list)
    facts: dict[str, int] = field(default_factory=dict)
    #: What a scenario checks besides the counts (static membership: no partition moved), by claim.
    checks: dict[str, bool] = field(default_factory=dict)
    result: Verdict | None = None

    @property
    def exact(self) -> bool:
        return self.result is not None and self.result.exact

    @property
    def checks_ok(self) -> bool:
        return all(self.checks.values())

    def summary(self) -> str:
        lines = [
            f"scenario: {self.scenario}",
            f"events: {self.events}",
            f"worker runs: {self.runs}",
            f"faults injected: {self.faults}",
            f"worker survived the faults by itself: {self.survived}",
            f"seconds: {self.seconds:.1f}",
        ]
        lines += [f"  {note}" for note in self.notes]
        lines += [f"check: {claim}: {'yes' if ok else 'NO'}" for claim, ok in self.checks.items()]
        if self.result is not None:
            r = self.result
            lines += [
                f"teacher_week rows: {len(r.teacher_week)} (oracle {len(r.truth.teacher_week)}), "
                f"raw row versions written: {r.raw_rows}",
                f"staff_week rows: {len(r.staff_week)} (oracle {len(r.truth.staff_week)})",
                f"registrations: {len(r.registrations)} (oracle {len(r.truth.registrations)})",
                f"kpi_unit_week rows: {len(r.kpi)} (oracle {len(r.kpi_truth)}), equal to the KPI oracle: {r.kpi_exact}",
                f"rows with one version and different counts: {len(r.conflicting_versions)}",
                f"dead letters: missing {sum(r.dead_letters_missing.values())}, "
                f"unexpected {sum(r.dead_letters_unexpected.values())}, extra copies {r.dead_letters_extra_copies}, "
                f"counted events re-read after a fault and dead-lettered as late "
                f"{sum(r.dead_letters_late_rereads.values())}",
                f"exact: {self.exact}",
            ]
            lines += [f"  {d}" for d in r.differences()]
            lines += [
                f"  unexpected dead letter {reason}: {value[:160]!r}"
                for (value, reason) in list(r.dead_letters_unexpected)[:10]
            ]
        return "\n".join(lines)


def _run_crash(
    broker: str,
    base: Path,
    *,
    events: int,
    kills: int,
    seed: int = 7,
    produce_seconds: float | None = None,
    batch_max_events: int = 2000,
    flush_interval_s: float = 4.0,
    weeks: int = 10,
) -> Report:
    """SIGKILL the worker ``kills`` times while the stream comes in, restart it each time with the
    same app id, data dir and store, then let ``worker --drain`` finish.

    Each kill falls 1-4 s (seeded) after an anchor that alternates: the moment the restarted worker
    got its partitions (the kill lands in the changelog recovery or the first batches), and the
    first offset commit of that run (it lands in a later batch or in a flush, between the write
    to ClickHouse and the commit).

    The input comes faster than the killed and restarted worker can keep up with (about 5 s of
    producing per kill, while a restart waits ~10 s for the group to drop the dead member), so
    the worker is catching up at every kill, as after any downtime or in a backfill. The events
    span ``weeks`` (10) weeks and a flush comes every ``flush_interval_s`` (4 s), so what a
    killed worker had applied but not committed spans more than the 7-day lateness: the case in
    which events re-read after a restart meet a restored stream time that is already past their
    week, and state eviction, which is what can lose counts. Batches of ``batch_max_events``
    (2,000; the default is 20,000) multiply the commit points a kill can fall between and the
    batches in which a restarted worker re-reads what it lost."""
    started = time.monotonic()
    rnd = random.Random(seed)
    scenario = Scenario.create(broker, base, events=events, seed=seed, weeks=weeks)
    report = Report("crash", len(scenario.lines))
    scenario.load_registry(scenario.store())
    producer = Producer(broker, scenario.topic, scenario.lines, produce_seconds or 5.0 * kills)
    producer.start()
    mid_run = 0
    batches = {"SFERUM_BATCH_MAX_EVENTS": str(batch_max_events), "SFERUM_FLUSH_INTERVAL_S": str(flush_interval_s)}
    for k in range(kills):
        dead = scenario.members()
        worker = scenario.worker(**batches)
        report.runs += 1
        before = scenario.committed_total()
        anchor = "assigned" if k % 2 == 0 else "first commit"
        try:
            wait_for(
                "the worker to get its partitions", lambda w=worker, d=dead: scenario.assigned(1, d) or not w.alive, 120
            )
            if anchor == "first commit":
                wait_for(
                    "a commit by the restarted worker",
                    lambda w=worker, b=before: scenario.committed_total() > b or not w.alive,
                    60,
                )
        except FaultError:
            anchor += " (timed out)"
        delay = rnd.uniform(1.0, 4.0)
        time.sleep(delay)
        at_kill = scenario.committed_total()
        produced = producer.sent
        code = worker.kill()
        if code != -signal.SIGKILL:
            raise FaultError(f"worker run {report.runs} was not alive when killed (exit {code}):\n{worker.tail()}")
        report.faults += 1
        progressed = at_kill > before
        mid_run += progressed and at_kill < len(scenario.lines)
        report.notes.append(
            f"kill {k + 1}: {delay:.1f} s after {anchor}, {time.monotonic() - worker.started:.1f} s into the run; "
            f"committed {before} -> {at_kill} of {produced} produced"
        )
    producer.finish()
    report.facts["kills_mid_run"] = mid_run
    report.notes.append(f"kills after this run's commits, with input left: {mid_run}")
    drain = scenario.worker(drain=True, **batches)
    report.runs += 1
    code = drain.wait(900)
    if code != 0:
        raise FaultError(f"worker --drain failed (exit {code}):\n{drain.tail()}")
    report.notes.append("every restarted worker resumed by itself from the last commit; worker --drain exit 0")
    report.result = verdict(scenario.store(), scenario)
    report.seconds = time.monotonic() - started
    return report


def all_advanced(before: dict[int, int], now: dict[int, int], partitions: int) -> bool:
    return len(now) == partitions and all(offset > before.get(p, 0) for p, offset in now.items())


def _run_rebalance(
    broker: str, base: Path, *, events: int, seed: int = 11, produce_seconds: float = 40.0, weeks: int = 10
) -> Report:
    """Worker A runs; worker B joins (A's partitions are revoked and split while A is busy); both
    commit; A is SIGKILLed; B takes A's partitions over and finishes the stream.

    Each worker has its own store: the embedded ClickHouse admits one process per data
    directory, where production would share one ClickHouse server. Both stores only ever receive
    inserts of (row, version); a server would hold the union of them, and ``FINAL`` over the
    union keeps the highest version of each row. So the two stores are merged by copying every
    row version into a third store, and ``FINAL`` of that is what a shared server would show."""
    started = time.monotonic()
    scenario = Scenario.create(broker, base, events=events, seed=seed, weeks=weeks)
    report = Report("rebalance", len(scenario.lines))
    scenario.load_registry(scenario.store("a"))
    scenario.load_registry(scenario.store("b"))
    # The input comes in stages: up to 40 % before B joins, to 70 % while both work, the rest after
    # A is killed.
    producer = Producer(broker, scenario.topic, scenario.lines, produce_seconds, holds=(0.4, 0.7))
    producer.start()
    # Small batches and a longer flush interval: when A dies, B has to re-read several batches of
    # A's applied but unflushed events, whose state B restores from A's changelog.
    extra = {"SFERUM_BATCH_MAX_EVENTS": "1000", "SFERUM_FLUSH_INTERVAL_S": "4"}
    a = scenario.worker("a", **extra)
    report.runs += 1
    wait_for("worker A to commit", lambda: scenario.committed_total() > 0, 120)
    if not a.alive:
        raise FaultError(f"worker A died:\n{a.tail()}")
    b = scenario.worker("b", **extra)
    report.runs += 1
    wait_for("A and B to share the group", lambda: scenario.assigned(2), 120)
    at_join = committed(broker, scenario.name)
    producer.release()
    # both are working: every partition (each owned by one of them) commits again after the join
    wait_for(
        "every partition to commit after the rebalance",
        lambda: all_advanced(at_join, committed(broker, scenario.name), scenario.partitions),
        120,
    )
    if not (a.alive and b.alive):
        raise FaultError(f"a worker died during the rebalance:\nA:\n{a.tail()}\nB:\n{b.tail()}")
    delay = random.Random(seed).uniform(1.0, 4.0)  # anywhere in A's flush cycle
    time.sleep(delay)
    at_kill = committed(broker, scenario.name)
    produced = producer.sent
    if sum(at_kill.values()) >= len(scenario.lines):
        raise FaultError("the input was all committed before A was killed: it proves nothing")
    code = a.kill()
    producer.release()  # the rest of the input comes after the kill
    if code != -signal.SIGKILL:
        raise FaultError(f"worker A was not alive when killed (exit {code})")
    report.faults += 1
    report.notes.append(
        f"A killed {delay:.1f} s after both had committed, with {sum(at_kill.values())} of {produced} "
        f"produced committed: {at_kill}"
    )
    producer.finish()
    wait_for("B to commit every partition to its end", lambda: scenario.fully_committed() or not b.alive, 300, 1.0)
    report.survived = b.alive
    if not b.alive:
        raise FaultError(f"worker B died after A was killed:\n{b.tail()}")
    report.notes.append(f"B stopped with SIGTERM, exit {b.terminate()}")
    merged = scenario.store("merged")
    copied, conflicts = merge_stores([scenario.store("a"), scenario.store("b")], merged)
    report.notes.append(f"row versions merged from A and B: {copied}")
    # the indicators of the shared server: what load-registry computes over the merged rows
    scenario.load_registry(merged)
    report.result = verdict(merged, scenario)
    report.result.conflicting_versions += conflicts
    report.seconds = time.monotonic() - started
    return report


def _run_outage(
    broker: str,
    base: Path,
    *,
    events: int,
    seed: int = 13,
    outage_s: float = 35.0,
    max_pending: int = 4000,
    weeks: int = 10,
) -> Report:
    """``worker --drain`` runs; after its first commit every write to its embedded store fails
    for ``outage_s`` (immutable directories), then the store comes back. Small batches and a small
    pending bound make the worker reach its backpressure while the store is down."""
    started = time.monotonic()
    scenario = Scenario.create(broker, base, events=events, seed=seed, weeks=weeks)
    report = Report("store outage", len(scenario.lines))
    scenario.load_registry(scenario.store())
    scenario.produce_all()
    extra = {
        "SFERUM_BATCH_MAX_EVENTS": "1000",
        "SFERUM_FLUSH_INTERVAL_S": "1",
        "SFERUM_FLUSH_MAX_PENDING_EVENTS": str(max_pending),
        "SFERUM_FLUSH_RETRY_MAX_S": "4",
    }
    worker = scenario.worker(drain=True, **extra)
    report.runs += 1
    wait_for("the first commit", lambda: scenario.committed_total() > 0 or not worker.alive, 120, 0.1)
    with frozen_store(scenario.store()) as frozen:
        report.faults += 1
        frozen_at = time.monotonic()
        # From the first refused write on, no checkpoint can commit: checkpoints run one at a time
        # and each writes its rows before any transaction.
        wait_for("the worker to meet the outage", lambda: STORE_FAILED in worker.log.read_text(errors="replace"), 30)
        during = scenario.committed_total()
        time.sleep(max(0.0, outage_s - (time.monotonic() - frozen_at)))  # the rest of the outage
        after = scenario.committed_total()
        alive = worker.alive
    report.notes.append(
        f"store frozen ({len(frozen)} directories) for {outage_s:.0f} s with {during} of {len(scenario.lines)} "
        f"committed when the worker met it; committed at its end: {after}; worker alive through it: {alive}"
    )
    if during >= len(scenario.lines):
        raise FaultError("the input was all committed before the outage: it proves nothing")
    if after != during:
        raise FaultError(f"offsets were committed while the store refused every write: {during} -> {after}")
    code = worker.wait(600)
    failures = worker.log.read_text(errors="replace").count(STORE_FAILED)
    report.notes.append(f"worker --drain exit {code}; failed writes to the store: {failures}")
    report.survived = alive and code == 0
    if code != 0:
        raise FaultError(f"worker --drain failed after the outage (exit {code}):\n{worker.tail()}")
    if failures == 0:
        raise FaultError("the worker never saw a failed write: the outage did not reach it")
    report.result = verdict(scenario.store(), scenario)
    report.seconds = time.monotonic() - started
    return report


def _run_broker_restart(
    broker: str,
    base: Path,
    *,
    events: int,
    seed: int = 17,
    how: str = "restart",
    drain: bool = False,
    weeks: int = 10,
) -> Report:
    """The broker is restarted under a running worker (``kafka.sh restart``: controlled shutdown
    and start; ``how="kill"``: SIGKILL and start) after the worker's first commit.

    By default the worker is the long-running one (no ``--drain``), as in production: half the
    input is produced before, half after the restart, so the worker must reconnect to consume
    it; it is stopped with SIGTERM once everything is committed. With ``drain`` the worker is
    ``worker --drain`` over the whole input produced before. Either way, if the worker does not
    get through by itself (``survived`` False) a ``worker --drain`` finishes the input, and the
    result must still be exact."""
    started = time.monotonic()
    status = kafka_sh(broker, "status")
    if status.returncode != 0:
        raise FaultError(f"the broker at {broker} is not managed by deploy/local/kafka.sh: {status.stdout}")
    scenario = Scenario.create(broker, base, events=events, seed=seed, weeks=weeks)
    report = Report(f"broker {how}" + (" (worker --drain)" if drain else ""), len(scenario.lines))
    scenario.load_registry(scenario.store())
    half = len(scenario.lines) if drain else len(scenario.lines) // 2
    first = Producer(broker, scenario.topic, scenario.lines[:half], seconds=0)
    first.start()
    first.finish()
    refresh_s = 2.0  # the running worker refreshes the indicators as it goes, and once more as it stops
    worker = scenario.worker(
        drain=drain,
        SFERUM_BATCH_MAX_EVENTS="2000",
        SFERUM_FLUSH_INTERVAL_S="1",
        # a commit every 2,000 events: the first one comes long before the first half is all
        # committed (at 20,000 events/s a 1 s flush tick alone came after all of it)
        SFERUM_FLUSH_MAX_PENDING_EVENTS="2000",
        SFERUM_KPI_REFRESH_INTERVAL_S=str(refresh_s),
    )
    report.runs += 1
    wait_for("the first commit", lambda: scenario.committed_total() > 0 or not worker.alive, 120, 0.1)
    before = scenario.committed_total()
    if before >= half:
        raise FaultError("the input was all committed before the broker restart: it proves nothing")
    down = time.monotonic()
    steps = [["restart"]] if how == "restart" else [["kill"], ["start"]]
    for step in steps:
        if step == ["start"]:
            # kafka.sh kill returns once the JVM is gone from /proc, which can be a moment before
            # the kernel has closed its listening socket; start refuses a port still open.
            wait_for("the killed broker's port to close", lambda: not _port_open(broker), 30, 0.2)
        done = kafka_sh(broker, *step)
        if done.returncode != 0:
            raise FaultError(f"kafka.sh {step[0]} failed:\n{done.stderr[-3000:]}")
    report.faults += 1
    report.notes.append(
        f"broker {how} with {before} of {half} produced committed took {time.monotonic() - down:.1f} s; "
        f"worker alive after it: {worker.alive}"
    )
    if not drain:
        rest = Producer(broker, scenario.topic, scenario.lines[half:], seconds=0)
        rest.start()
        rest.finish()
        try:
            wait_for(
                "every partition committed to its end", lambda: scenario.fully_committed() or not worker.alive, 300, 1.0
            )
        except FaultError as exc:
            report.notes.append(str(exc))
        if worker.alive and scenario.fully_committed():
            # the worker refreshes the stored indicators once more as it stops: what the verdict
            # reads is the worker's own, not recomputed here
            code = worker.terminate()
            report.notes.append(f"worker consumed everything after the restart; SIGTERM exit {code}")
            report.survived = True
        else:
            code = worker.kill() if worker.alive else worker.wait()
            report.survived = False
            report.notes.append(f"worker did not get through: exit {code}")
    else:
        try:
            code = worker.wait(300)
        except subprocess.TimeoutExpired:
            code = worker.kill()
            report.notes.append("worker --drain did not finish within 300 s after the restart: killed")
        report.survived = code == 0
        report.notes.append(f"worker --drain exit {code}")
    if not report.survived:
        crash = [line for line in worker.tail(200_000).splitlines() if "Crashed reason" in line]
        report.notes.append("first crash: " + (crash[0][:300] if crash else "(none logged)"))
        again = scenario.worker("a", drain=True)
        report.runs += 1
        code = again.wait(600)
        report.notes.append(f"a new worker --drain finished the input: exit {code}")
        if code != 0:
            raise FaultError(f"worker --drain failed after the broker {how}:\n{again.tail()}")
    report.result = verdict(scenario.store(), scenario)
    report.seconds = time.monotonic() - started
    return report


def merged_verdict(scenario: Scenario, nodes: list[str], report: Report) -> Verdict:
    """The stores of several nodes as one shared server would hold them (see ``_run_rebalance``)."""
    merged = scenario.store("merged")
    copied, conflicts = merge_stores([scenario.store(node) for node in nodes], merged)
    report.notes.append(f"row versions merged from {', '.join(nodes)}: {copied}")
    scenario.load_registry(merged)
    result = verdict(merged, scenario)
    result.conflicting_versions += conflicts
    return result


def _run_double_rebalance(
    broker: str, base: Path, *, events: int, seed: int = 19, produce_seconds: float = 45.0, weeks: int = 10
) -> Report:
    """Two rebalances less than a second apart while the stream comes in: worker A runs, B and C
    join 0.2-0.9 s (seeded) apart; once all three commit, B is SIGKILLed and A and C finish."""
    started = time.monotonic()
    rnd = random.Random(seed)
    scenario = Scenario.create(broker, base, events=events, seed=seed, weeks=weeks)
    report = Report("double rebalance", len(scenario.lines))
    for node in "abc":
        scenario.load_registry(scenario.store(node))
    producer = Producer(broker, scenario.topic, scenario.lines, produce_seconds, holds=(0.4, 0.7))
    producer.start()
    extra = {"SFERUM_BATCH_MAX_EVENTS": "1000", "SFERUM_FLUSH_INTERVAL_S": "2"}
    a = scenario.worker("a", **extra)
    wait_for("worker A to commit", lambda: scenario.committed_total() > 0 or not a.alive, 120)
    gap = rnd.uniform(0.2, 0.9)
    b = scenario.worker("b", **extra)
    time.sleep(gap)  # the second join lands in the first one's rebalance
    c = scenario.worker("c", **extra)
    report.runs += 3
    report.faults += 2
    wait_for("A, B and C to share the group", lambda: scenario.assigned(3), 120)
    at_join = committed(broker, scenario.name)
    producer.release()
    wait_for(
        "every partition to commit after the rebalances",
        lambda: all_advanced(at_join, committed(broker, scenario.name), scenario.partitions),
        120,
    )
    if producer.sent >= len(scenario.lines):
        raise FaultError("the input was all produced before B was killed: it proves nothing")
    dead = scenario.members()
    code = b.kill()
    producer.release()
    report.faults += 1
    report.notes.append(f"C joined {gap:.2f} s after B; B killed (exit {code}) with {producer.sent} produced")
    producer.finish()
    wait_for("A and C alone in the group", lambda: scenario.assigned(2, dead - scenario.members()), 120)
    wait_for("everything committed", lambda: scenario.fully_committed() or not (a.alive and c.alive), 300, 1.0)
    report.survived = a.alive and c.alive
    if not report.survived:
        raise FaultError(f"a survivor died:\nA:\n{a.tail()}\nC:\n{c.tail()}")
    report.notes.append(f"A and C stopped with SIGTERM: exit {a.terminate()}, {c.terminate()}")
    report.result = merged_verdict(scenario, ["a", "b", "c"], report)
    report.seconds = time.monotonic() - started
    return report


def _run_failover(broker: str, base: Path, *, events: int, seed: int = 23, weeks: int = 10) -> Report:
    """The local store must never be ahead of the changelog (a regression: 992 of 8,384
    teacher-weeks were lost this way). A worker starts on a backlog; 0.5-3 s (seeded) after its
    first commit the broker is SIGKILLed under it, then the worker; the broker restarts; the worker
    restarts on the same data dir and drains; the rest of the input comes; then a fresh node (an
    empty data dir, the same group) drains it. The fresh node has only the changelog: any state
    the first node kept locally but never committed would be missing there."""
    started = time.monotonic()
    rnd = random.Random(seed)
    status = kafka_sh(broker, "status")
    if status.returncode != 0:
        raise FaultError(f"the broker at {broker} is not managed by deploy/local/kafka.sh: {status.stdout}")
    scenario = Scenario.create(broker, base, events=events, seed=seed, weeks=weeks)
    report = Report("kill broker and worker, restart, fail over to a fresh node", len(scenario.lines))
    scenario.load_registry(scenario.store("a"))
    scenario.load_registry(scenario.store("b"))
    first = int(len(scenario.lines) * 0.8)
    backlog = Producer(broker, scenario.topic, scenario.lines[:first], seconds=0)
    backlog.start()
    backlog.finish()
    backlog_end = sum(scenario.ends().values())  # = first, but with transactional input its markers too
    # small checkpoints: many of them over the backlog, so the kills find one under way and the
    # backlog not yet all committed even when the first commit is seen late (a loaded machine)
    extra = {
        "SFERUM_BATCH_MAX_EVENTS": "500",
        "SFERUM_FLUSH_INTERVAL_S": "1",
        "SFERUM_FLUSH_MAX_PENDING_EVENTS": "500",
    }
    worker = scenario.worker("a", **extra)
    report.runs += 1
    wait_for("the first commit", lambda: scenario.committed_total() > 0 or not worker.alive, 120, 0.05)
    delay = rnd.uniform(0.0, 1.0)
    time.sleep(delay)
    at_kill = scenario.committed_total()
    try:
        killed = kafka_sh(broker, "kill")
        if killed.returncode != 0:
            raise FaultError(f"kafka.sh kill failed:\n{killed.stderr[-3000:]}")
        code = worker.kill()
    finally:  # the broker is the suite's: it comes back whatever happened
        wait_for("the killed broker's port to close", lambda: not _port_open(broker), 30, 0.2)
        restarted = kafka_sh(broker, "start")
    if restarted.returncode != 0:
        raise FaultError(f"kafka.sh start failed:\n{restarted.stderr[-3000:]}")
    report.faults += 2
    report.notes.append(f"broker, then worker (exit {code}) killed {delay:.1f} s after the first commit")
    report.notes.append(f"committed then: {at_kill} of a backlog of {first}")
    if at_kill >= backlog_end:
        raise FaultError("the backlog was all committed before the kills: it proves nothing")
    again = scenario.worker("a", drain=True, **extra)
    report.runs += 1
    code = again.wait(600)
    if code != 0:
        raise FaultError(f"the restarted worker --drain failed (exit {code}):\n{again.tail()}")
    rest = Producer(broker, scenario.topic, scenario.lines[first:], seconds=0)
    rest.start()
    rest.finish()
    fresh = scenario.worker("b", drain=True, **extra)
    report.runs += 1
    code = fresh.wait(600)
    if code != 0:
        raise FaultError(f"the fresh node's worker --drain failed (exit {code}):\n{fresh.tail()}")
    report.survived = True
    report.notes.append("the same node drained after the restart, then a fresh node drained the rest")
    report.result = merged_verdict(scenario, ["a", "b"], report)
    report.seconds = time.monotonic() - started
    return report


def _run_frozen(
    broker: str, base: Path, *, events: int, seed: int = 29, produce_seconds: float = 60.0, weeks: int = 10
) -> Report:
    """A member frozen past its session timeout, then resumed while another owns its partitions:
    workers A and B share the stream; A is SIGSTOPped 0-2 s (seeded) after both committed, for
    the session timeout and 6 s more (B takes its partitions meanwhile), then SIGCONTinued. A wakes
    up in whatever it was doing (a batch, a checkpoint's transaction) with partitions it no longer
    owns; its producers are fenced, so nothing it does then may count."""
    started = time.monotonic()
    rnd = random.Random(seed)
    scenario = Scenario.create(broker, base, events=events, seed=seed, weeks=weeks)
    report = Report("a member frozen past its session", len(scenario.lines))
    scenario.load_registry(scenario.store("a"))
    scenario.load_registry(scenario.store("b"))
    producer = Producer(broker, scenario.topic, scenario.lines, produce_seconds, holds=(0.4, 0.7))
    producer.start()
    extra = {"SFERUM_BATCH_MAX_EVENTS": "1000", "SFERUM_FLUSH_INTERVAL_S": "1"}
    a = scenario.worker("a", **extra)
    wait_for("worker A to commit", lambda: scenario.committed_total() > 0 or not a.alive, 120)
    b = scenario.worker("b", **extra)
    report.runs += 2
    wait_for("A and B to share the group", lambda: scenario.assigned(2), 120)
    at_join = committed(broker, scenario.name)
    producer.release()
    wait_for(
        "every partition to commit after the rebalance",
        lambda: all_advanced(at_join, committed(broker, scenario.name), scenario.partitions),
        120,
    )
    time.sleep(rnd.uniform(0.0, 2.0))
    a.freeze()
    frozen_at = time.monotonic()
    at_freeze = committed(broker, scenario.name)
    producer.release()  # the rest comes while A is frozen: B must commit A's partitions past it
    report.faults += 1
    try:
        wait_for("A's session to expire: B alone in the group", lambda: scenario.assigned(1), 60)
        wait_for(
            "B to commit every partition, A's too",
            lambda: all_advanced(at_freeze, committed(broker, scenario.name), scenario.partitions),
            60,
        )
    finally:
        a.thaw()
    report.notes.append(f"A frozen {time.monotonic() - frozen_at:.1f} s with {producer.sent} produced")
    producer.finish()
    wait_for("A back in the group", lambda: scenario.assigned(2) or not a.alive, 120)
    wait_for("everything committed", lambda: scenario.fully_committed() or not (a.alive and b.alive), 300, 1.0)
    report.survived = a.alive and b.alive
    if not report.survived:
        raise FaultError(f"a worker died:\nA:\n{a.tail()}\nB:\n{b.tail()}")
    fenced = a.log.read_text(errors="replace").count("was fenced")
    report.facts["fenced"] = fenced
    report.notes.append(f"A's producers fenced after it woke: {fenced}; stopped: exit {a.terminate()}, {b.terminate()}")
    report.result = merged_verdict(scenario, ["a", "b"], report)
    report.seconds = time.monotonic() - started
    return report


def changelog_records(broker: str, topic: str, partitions: int) -> list[tuple[bytes, int]]:
    """(key, size of key and value) of every record of a changelog topic, those of aborted
    transactions included (the broker stored them all)."""

    async def run() -> list[tuple[bytes, int]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker, group_id=None, isolation_level="read_uncommitted")
        await consumer.start()
        got: list[tuple[bytes, int]] = []
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        try:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for records in (await consumer.getmany(timeout_ms=1000, max_records=2000)).values():
                    got.extend((r.key or b"", len(r.key or b"") + len(r.value or b"")) for r in records)
        finally:
            await consumer.stop()
        return got

    return asyncio.run(run())


def time_drain(broker: str, base: Path, lines: list[bytes], partitions: int = 4) -> float:
    """Seconds of a fresh ``worker --drain`` over the lines, produced beforehand."""
    scenario = Scenario.create(broker, base, events=0, seed=1, partitions=partitions, lines=lines)
    scenario.produce_all()
    worker = scenario.worker("a", drain=True)
    code = worker.wait(900)
    if code != 0:
        raise FaultError(f"worker --drain failed (exit {code}):\n{worker.tail()}")
    return time.monotonic() - worker.started


def _run_hot_key(broker: str, base: Path, *, hot: int = 200_000, seed: int = 31) -> Report:
    """One account with ``hot`` events in one week (3 % delivered twice) and ordinary teachers
    alongside, all produced at once; the worker is SIGKILLed 0.5-3 s (seeded) after its first
    commit, then ``worker --drain`` finishes. Its state per key must stay in records of at most
    256 KiB (the changelog topic is read back), and the counts exact."""
    started = time.monotonic()
    rnd = random.Random(seed)
    lines = hot_key_lines(hot=hot, seed=seed)
    scenario = Scenario.create(broker, base, events=0, seed=seed, lines=lines)
    report = Report("one hot account", len(scenario.lines))
    scenario.load_registry(scenario.store())
    scenario.produce_all()
    extra = {"SFERUM_FLUSH_INTERVAL_S": "1"}
    worker = scenario.worker(**extra)
    report.runs += 1
    wait_for("the first commit", lambda: scenario.committed_total() > 0 or not worker.alive, 120, 0.1)
    time.sleep(rnd.uniform(0.5, 3.0))
    at_kill = scenario.committed_total()
    code = worker.kill()
    report.faults += 1
    report.notes.append(f"killed (exit {code}) with {at_kill} of {len(scenario.lines)} committed")
    if at_kill >= len(scenario.lines):
        raise FaultError("the input was all committed before the kill: it proves nothing")
    drain = scenario.worker(drain=True, **extra)
    report.runs += 1
    code = drain.wait(900)
    if code != 0:
        raise FaultError(f"worker --drain failed (exit {code}):\n{drain.tail()}")
    report.facts["drain_seconds"] = round(time.monotonic() - drain.started)
    records = changelog_records(broker, f"{scenario.name}-state-changelog", scenario.partitions)
    report.facts["changelog_records"] = len(records)
    report.facts["changelog_chunk_records"] = sum(1 for key, _ in records if key[:1] == b"c")
    report.facts["changelog_largest_record_bytes"] = max(size for _, size in records)
    report.notes.append(
        f"changelog: {len(records)} records, {report.facts['changelog_chunk_records']} of them chunks of ids, "
        f"the largest {report.facts['changelog_largest_record_bytes']:,} bytes"
    )
    hot_warnings = drain.log.read_text(errors="replace").count("events in the week")
    report.facts["hot_warnings"] = hot_warnings + worker.log.read_text(errors="replace").count("events in the week")
    report.result = verdict(scenario.store(), scenario)
    report.seconds = time.monotonic() - started
    return report


def cleaning(run: Callable[..., Report]) -> Callable[..., Report]:
    def wrapped(*args: Any, **kwargs: Any) -> Report:
        try:
            return run(*args, **kwargs)
        finally:
            kill_leftover_workers()

    wrapped.__doc__ = run.__doc__
    wrapped.__name__ = run.__name__.lstrip("_")
    return wrapped


run_crash = cleaning(_run_crash)
run_rebalance = cleaning(_run_rebalance)
run_outage = cleaning(_run_outage)
run_broker_restart = cleaning(_run_broker_restart)
run_double_rebalance = cleaning(_run_double_rebalance)
run_failover = cleaning(_run_failover)
run_frozen = cleaning(_run_frozen)
run_hot_key = cleaning(_run_hot_key)


# Command line ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m tests.tools.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "scenario",
        choices=[
            "crash",
            "rebalance",
            "outage",
            "broker-restart",
            "broker-kill",
            "double-rebalance",
            "failover",
            "frozen",
            "hot-key",
        ],
    )
    parser.add_argument("--broker", default="127.0.0.1:9092", help="host:port of a local broker (kafka.sh)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--kills", type=int, default=5, help="crash: SIGKILLs of the worker (the issue asks for 5 or more)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-max-events", type=int, default=2000, help="crash: SFERUM_BATCH_MAX_EVENTS")
    parser.add_argument(
        "--weeks",
        type=int,
        default=10,
        help="weeks the generated events span (at most 11: later ones would be in the future)",
    )
    parser.add_argument("--flush-interval", type=float, default=4.0, help="crash: SFERUM_FLUSH_INTERVAL_S")
    parser.add_argument("--produce-seconds", type=float, default=None, help="crash/rebalance: pace of the input")
    parser.add_argument("--outage-seconds", type=float, default=35.0)
    parser.add_argument("--drain", action="store_true", help="broker-*: run the worker with --drain")
    parser.add_argument(
        "--compare-spread",
        action="store_true",
        help="hot-key: also time worker --drain over the hot set and over the same events spread over many users",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, stores)")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="sferum-faults-"))
    try:
        if args.scenario == "crash":
            report = run_crash(
                args.broker,
                base,
                events=args.events,
                kills=args.kills,
                seed=args.seed,
                produce_seconds=args.produce_seconds,
                batch_max_events=args.batch_max_events,
                flush_interval_s=args.flush_interval,
                weeks=args.weeks,
            )
        elif args.scenario == "rebalance":
            report = run_rebalance(
                args.broker,
                base,
                events=args.events,
                seed=args.seed,
                produce_seconds=args.produce_seconds or 40.0,
                weeks=args.weeks,
            )
        elif args.scenario == "outage":
            report = run_outage(
                args.broker, base, events=args.events, seed=args.seed, outage_s=args.outage_seconds, weeks=args.weeks
            )
        elif args.scenario == "double-rebalance":
            report = run_double_rebalance(
                args.broker, base, events=args.events, seed=args.seed, produce_seconds=args.produce_seconds or 60.0
            )
        elif args.scenario == "failover":
            report = run_failover(args.broker, base, events=args.events, seed=args.seed, weeks=args.weeks)
        elif args.scenario == "hot-key":
            report = run_hot_key(args.broker, base, hot=args.events, seed=args.seed)
            if args.compare_spread:
                kill_leftover_workers()
                spread = time_drain(args.broker, base / "spread", hot_key_lines(hot=args.events, spread=True))
                hot = time_drain(args.broker, base / "hot", hot_key_lines(hot=args.events))
                report.notes.append(
                    f"worker --drain from scratch, same number of events: one hot account {hot:.1f} s, "
                    f"spread over {args.events // 100} teachers {spread:.1f} s: {hot / spread:.2f}x"
                )
        elif args.scenario == "frozen":
            report = run_frozen(
                args.broker, base, events=args.events, seed=args.seed, produce_seconds=args.produce_seconds or 60.0
            )
        else:
            how = "restart" if args.scenario == "broker-restart" else "kill"
            report = run_broker_restart(
                args.broker, base, events=args.events, seed=args.seed, how=how, drain=args.drain, weeks=args.weeks
            )
    except FaultError as exc:
        print(f"fault scenario failed: {exc}\nwork directory: {base}", file=sys.stderr)
        return 1
    print(report.summary())
    if args.keep or not report.exact:
        print(f"work directory: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if report.exact and report.result is not None and report.result.dead_letters_ok else 1


if __name__ == "__main__":
    sys.exit(main())
