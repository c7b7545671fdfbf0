"""Measure the worker against the Python consumer's limit, a Quix Streams peer and replay.

    .venv/bin/python -m bench.run [--events N] [--broker host:port] [--partitions 4]
                                  [--workers-scaling] [--rss] [--latency] [--profile-worker FILE]

One run makes ``N`` realistic events (``bench.data``), produces them into a fresh topic, then
measures on that topic, one after another:

- L: aiokafka consume + ``schemas.decode.decode`` of the whole topic in this process: the
  Python consumer's limit (L0: consume only);
- W: ``sferum-kpi worker --drain`` (child process, fresh group and embedded store), events/s over
  its whole wall time, with the time to its first event (startup) apart;
- Q: ``bench/peers/quix_job.py``, the same counting job with Quix Streams (child process);
- R: ``sferum-kpi replay`` of the same file (child process).

and checks that W, Q and R wrote the same ``teacher_week``. Rates over wall time include each
child's start (interpreter, imports, schema) and end (last flush, exit). The last line is
``events_per_s W=<n> L=<n> Q=<n> R=<n> W/L=<r> W/Q=<r>``. Use a broker of the bench's own: the
machine's cores are shared with it, and the figures say what this machine did, nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console

from bench import latency as lat
from bench.data import BenchData, make_events
from bench.kafka_io import bench_settings, consume, delete_topics, produce, topic_offsets
from bench.procs import (
    BENCH_VENV,
    ROOT,
    Run,
    Spec,
    clean_env,
    free_port,
    json_stdout,
    kill_children,
    python_for_quix,
    start,
    stop,
    watch,
)
from bench.report import BenchReport, Measure, RssPerTeacherWeeks, StoreCheck, final_line, render
from stream.kafka.admin import BrokerUnavailable, ensure_topics
from stream.state.store import PartitionStore

TeacherWeekRows = dict[tuple[str, str], tuple[int, ...]]
READY_TIMEOUT_S = 120.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to produce (default 1,000,000)")
    parser.add_argument("--broker", default="127.0.0.1:9092", help="host:port of a broker for the bench alone")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the fresh topic")
    parser.add_argument("--workers-scaling", action="store_true", help="also W with 2 workers (own stores)")
    parser.add_argument("--rss", action="store_true", help="W's peak RSS per 100,000 live teacher-weeks")
    parser.add_argument("--latency", action="store_true", help="produced→visible p50/p99 at a steady rate")
    parser.add_argument("--latency-rate", type=int, default=5_000, help="events/s for --latency")
    parser.add_argument("--latency-seconds", type=float, default=60.0, help="how long --latency produces")
    parser.add_argument(
        "--latency-topics",
        choices=["one", "per-type"],
        default="one",
        help="--latency on one topic, or on one topic per event type (the default layout, merged by event time)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated events")
    parser.add_argument("--quix-python", help=f"a Python with quixstreams (default: this one, else {BENCH_VENV})")
    parser.add_argument(
        "--profile-worker",
        metavar="FILE",
        help="after the measured runs, one more W under pyinstrument (if installed), its text report to FILE",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory and the run's topics")
    args = parser.parse_args(argv)
    if args.events < 1 or args.partitions < 1:
        parser.error("--events and --partitions must be positive")
    if args.workers_scaling and args.partitions < 2:
        parser.error("--workers-scaling needs at least 2 partitions")
    return args


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, console: Console) -> None:
        self.args = args
        self.workdir = workdir
        self.console = console
        self.run_id = f"bench{uuid.uuid4().hex[:8]}"
        self.topic = f"{self.run_id}.events"
        self.settings = bench_settings(args.broker, self.topic, args.partitions, self.run_id, workdir)

    def say(self, text: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text}", highlight=False)

    # child processes ----------------------------------------------------------------------------

    def worker_spec(
        self, name: str, group: str, topic: str, *, drain: bool, extra: dict[str, str] | None = None
    ) -> Spec:
        port = free_port()
        env = clean_env(
            {
                "SFERUM_BROKER": self.args.broker,
                "SFERUM_APP_ID": f"{self.run_id}-{group}",
                "SFERUM_INPUT_TOPICS": topic,
                "SFERUM_DEAD_LETTER_TOPIC": f"{self.run_id}.dead-letter",
                "SFERUM_PARTITIONS": str(self.args.partitions),
                "SFERUM_DATA_DIR": str(self.workdir / name / "data"),
                "SFERUM_STORE": self.store(name),
                "SFERUM_WEB_PORT": str(port),
                **(extra or {}),
            }
        )
        argv = [sys.executable, "-m", "stream", "worker", *(["--drain"] if drain else [])]
        return Spec(argv, env, self.workdir / f"{name}.log", metrics_port=port)

    def store(self, name: str) -> str:
        return f"chdb://{self.workdir / name / 'store'}"

    def timeout_s(self) -> float:
        return max(900.0, self.args.events / 300)

    def checked(self, runs: list[Run], what: str) -> list[Run]:
        for run in runs:
            if run.returncode != 0:
                raise RuntimeError(f"{what} exited with {run.returncode}:\n{run.tail()}")
        return runs

    def workers(self, count: int, events: int, extra: dict[str, str] | None = None) -> tuple[Measure, list[Run]]:
        """``count`` workers ``--drain`` in one group; ``extra``: settings of their own (SFERUM_*)."""
        names = ["w1"] if count == 1 else [f"w{count}{chr(97 + i)}" for i in range(count)]
        specs = [self.worker_spec(n, f"w{count}", self.topic, drain=True, extra=extra) for n in names]
        runs = self.checked(watch([start(s) for s in specs], expected_events=events, timeout_s=self.timeout_s()), "W")
        spawned = min(r.spawned for r in runs)
        exited = max(r.exited for r in runs)
        firsts = [r.first_event for r in runs if r.first_event is not None]
        first = min(firsts) if firsts else None
        consumed = runs[0].all_consumed
        measure = Measure(
            key="W" + ("" if count == 1 else f"×{count}"),
            label=f"worker --drain, {count} process{'es' if count > 1 else ''}",
            events=events,
            wall_s=exited - spawned,
            startup_s=None if first is None else first - spawned,
            processing_s=None if first is None or consumed is None else consumed - first,
            cpu_s=sum(r.cpu_s for r in runs),
            peak_rss=max(r.peak_rss for r in runs),
            note=f"then {exited - consumed:.1f} s to the last flush and exit"
            if consumed
            else "its /metrics never showed every event consumed (first→last unknown; see the worker logs)",
        )
        return measure, runs

    def quix(self, python: str, events: int) -> Measure:
        argv = [python, "-m", "bench.peers.quix_job", "--broker", self.args.broker, "--topic", self.topic]
        argv += ["--group", f"{self.run_id}-q", "--store", self.store("q"), "--state-dir", str(self.workdir / "q")]
        spec = Spec(argv, clean_env({}), self.workdir / "q.log")
        run = self.checked(watch([start(spec)], timeout_s=self.timeout_s()), "Q")[0]
        out = json_stdout(run)
        first, last = out.get("first_event_at"), out.get("last_event_at")
        assert isinstance(first, float) and isinstance(last, float), out
        return Measure(
            key="Q",
            label="Quix Streams peer (bench/peers/quix_job.py)",
            events=events,
            wall_s=run.wall_s,
            startup_s=first - run.spawned,
            processing_s=last - first,
            cpu_s=run.cpu_s,
            peak_rss=run.peak_rss,
            note=f"teacher_week only; then {run.exited - last:.1f} s to the last flush and exit",
        )

    def replay(self, data: BenchData) -> Measure:
        letters = str(self.workdir / "r.dead-letter")
        argv = [sys.executable, "-m", "stream", "replay", "--json", "--dead-letter", letters, str(data.path)]
        spec = Spec(argv, clean_env({"SFERUM_STORE": self.store("r")}), self.workdir / "r.log")
        run = self.checked(watch([start(spec)], timeout_s=self.timeout_s()), "R")[0]
        seconds = float(json_stdout(run)["seconds"])  # type: ignore[arg-type]
        return Measure(
            key="R",
            label="replay of the file (no Kafka)",
            events=data.events,
            wall_s=run.wall_s,
            startup_s=run.wall_s - seconds,
            processing_s=seconds,
            cpu_s=run.cpu_s,
            peak_rss=run.peak_rss,
            note="startup: imports and counting the file's lines; first→last includes the KPI refresh",
        )

    def teacher_weeks(self, *names: str) -> TeacherWeekRows:
        """teacher_week FINAL of one store, or of several merged (the highest version wins)."""
        rows: TeacherWeekRows = {}
        query = (
            "SELECT week_start, teacher_id, group_chats_created, group_messages, chat_messages, calls, version "
            "FROM sferum.teacher_week FINAL"
        )
        for name in names:
            argv = [sys.executable, "-m", "stream", "sql", "--store", self.store(name), "--format", "TSV", query]
            run = self.checked(watch([start(Spec(argv, clean_env({}), self.workdir / f"sql-{name}.log"))]), "sql")[0]
            for line in run.stdout.splitlines():
                week, teacher, *counts = line.split("\t")
                values = tuple(int(c) for c in counts)
                old = rows.get((week, teacher))
                if old is None or values[-1] > old[-1]:
                    rows[(week, teacher)] = values
        return rows

    def clean_up(self, *, keep: bool) -> None:
        """Kill the children still running; unless ``keep``, remove the work directory and the
        run's topics."""
        killed = kill_children()
        if killed:
            self.say(f"killed children still running: {', '.join(map(str, killed))}")
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
            try:
                deleted = delete_topics(self.args.broker, self.run_id)
                self.say(f"removed {self.workdir} and {len(deleted)} topics of run {self.run_id}")
            except Exception as exc:  # the broker may be the reason the run stopped
                self.say(f"removed {self.workdir}; the run's topics stay ({exc})")

    # the run ----------------------------------------------------------------------------------

    def run(self, quix_python: str) -> BenchReport:
        args = self.args
        load_before = os.getloadavg()
        self.say(f"generating {args.events:,} events (run {self.run_id}, work dir {self.workdir})")
        data = make_events(args.events, self.workdir, seed=args.seed)
        report = BenchReport(data, args.broker, args.partitions, source=source_state(), load_before=load_before)
        self.say(f"producing to {self.topic} ({args.partitions} partitions)")
        produced = produce(self.settings, data.path, self.topic)
        report.measures.append(Measure("P", "produce (sferum-kpi produce's code)", produced.events, produced.seconds))
        offsets = topic_offsets(self.settings, self.topic)
        self.say("L0/L: consuming the topic in this process")
        for key, label, decoding in (("L0", "aiokafka consume only", False), ("L", "aiokafka consume + decode", True)):
            timed = consume(args.broker, offsets, decode_values=decoding)
            report.measures.append(Measure(key, label, timed.events, timed.seconds, note="in-process, no startup"))
        self.say("W: worker --drain")
        w, w_runs = self.workers(1, data.events)
        report.measures.append(w)
        self.say("Q: Quix Streams peer")
        report.measures.append(self.quix(quix_python, data.events))
        self.say("R: replay")
        report.measures.append(self.replay(data))
        stores = {"W": ("w1",), "Q": ("q",), "R": ("r",)}
        if args.workers_scaling:
            self.say("W×2: two workers, one group, own stores")
            w2, w2_runs = self.workers(2, data.events)
            report.measures.append(w2)
            stores["W×2"] = tuple(r.spec.log.stem for r in w2_runs)
        self.say("reading teacher_week back from every store")
        reference = self.teacher_weeks(*stores["W"])
        for key, names in stores.items():
            rows = reference if key == "W" else self.teacher_weeks(*names)
            totals = tuple(sum(v[i] for v in rows.values()) for i in range(5))
            report.checks.append(StoreCheck(key, len(rows), totals, rows == reference))
        if args.rss:
            report.rss = rss_per_teacher_weeks(w_runs[0], reference, self.workdir / "w1" / "data" / "state")
        if args.latency:
            report.latency = self.measure_latency(data)
        if args.profile_worker:
            self.profile_worker(Path(args.profile_worker).resolve(), data.events)
        report.load_after = os.getloadavg()
        return report

    def profile_worker(self, out: Path, events: int) -> None:
        """One more ``worker --drain`` (fresh group and store) under pyinstrument; not measured."""
        spec = self.worker_spec("wprof", "wprof", self.topic, drain=True)
        profiler = [sys.executable, "-m", "pyinstrument", "-i", "0.005", "-r", "text", "--no-color", "--show", "*"]
        profiler += ["-o", str(out)]
        argv = [*profiler, "-m", "stream", *spec.argv[3:]]
        self.say(f"profiling W with pyinstrument into {out}")
        profiled = Spec(argv, spec.env, spec.log)  # no /metrics reads: they would show in the profile
        self.checked(watch([start(profiled)], timeout_s=self.timeout_s()), "W")

    def measure_latency(self, data: BenchData) -> lat.LatencyResult:
        types = ("chat_created", "message_sent", "call", "registered")
        if self.args.latency_topics == "one":
            topics = dict.fromkeys(types, f"{self.run_id}.latency")
        else:
            topics = {t: f"{self.run_id}.latency-{t.replace('_', '-')}" for t in types}
        names = tuple(dict.fromkeys(topics.values()))
        settings = self.settings.model_copy(update={"input_topics": names})
        asyncio.run(ensure_topics(settings, list(names)))
        spec = self.worker_spec("lat", "lat", ",".join(names), drain=False)
        self.say(f"latency: starting a worker on {', '.join(names)}, then {self.args.latency_rate:,} events/s")
        run = start(spec)
        try:
            wait_ready(run, self.args.partitions * len(names))
            result = asyncio.run(
                lat.drive(
                    broker=self.args.broker,
                    topics=topics,
                    group=f"{self.run_id}-lat",
                    metrics_port=spec.metrics_port or 0,
                    worker_pid=run.pid,
                    events=lat.templates(data.path),
                    rate=self.args.latency_rate,
                    seconds=self.args.latency_seconds,
                    id_prefix=f"{self.run_id}-lat",
                )
            )
        finally:
            stop(run)
        return result


def source_state() -> str:
    """The commit measured, and the product files that differ from it (the work tree is shared)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    status = subprocess.run(
        [*git, "status", "--porcelain", "--", "stream", "sinks", "schemas"], capture_output=True, text=True
    ).stdout
    changed = [line[3:] for line in status.splitlines()]
    if not head:
        return f"not a git checkout ({ROOT})"
    return f"commit {head}" + (f" + uncommitted {', '.join(changed)}" if changed else ", clean")


def wait_ready(run: Run, partitions: int) -> None:
    """Until the worker owns every partition (its /metrics says so)."""
    from bench.procs import gauge, metrics_text

    deadline = time.time() + READY_TIMEOUT_S
    while time.time() < deadline:
        if run.child is not None and run.child.poll() is not None:
            raise RuntimeError(f"the latency worker exited with {run.child.returncode}:\n{run.tail()}")
        text = metrics_text(run.spec.metrics_port or 0)
        if text is not None and gauge(text, "sferum_assigned_partitions") == partitions:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the latency worker did not own {partitions} partitions within {READY_TIMEOUT_S:.0f} s")


def rss_per_teacher_weeks(run: Run, rows: TeacherWeekRows, state_dir: Path) -> RssPerTeacherWeeks:
    """Live teacher-weeks: rows of the newest two weeks, the weeks a user's state still holds
    under the default 7-day lateness. The state: every record of the worker's local stores, as it
    left them (the same records as its changelog)."""
    live = live_teacher_weeks(rows)
    state_bytes = users = 0
    for key, value in state_records(state_dir):
        state_bytes += len(key) + len(value)
        users += key[:1] == b"u"
    return RssPerTeacherWeeks(run.peak_rss, run.rss_at_first_event, live, state_bytes, users)


def live_teacher_weeks(rows: TeacherWeekRows) -> int:
    """Rows of the newest two weeks: the weeks a user's state still holds under the default
    7-day lateness."""
    newest = max(date.fromisoformat(week) for week, _ in rows) if rows else date.min
    return sum(1 for week, _ in rows if date.fromisoformat(week) >= newest - timedelta(days=7))


def state_records(state_dir: Path) -> Iterator[tuple[bytes, bytes]]:
    """Every state record of a worker's local stores (``SFERUM_DATA_DIR/state``), as it left them:
    the same records as its changelog, without the store's own position in it."""
    for path in sorted(state_dir.glob("*/partition-*")):
        store = PartitionStore(path)
        try:
            for key in store.keys(b""):
                if not key.startswith(b"m:"):
                    yield key, store.get(key) or b""
        finally:
            store.close()


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    quix_python = python_for_quix(args.quix_python)
    if quix_python is None:
        console.print(
            "bench: no Python with quixstreams for Q. Install the extra (pip install -e '.[bench]') or make "
            f"the bench venv: python3.11 -m venv {BENCH_VENV} && {BENCH_VENV}/bin/pip install -e '.[bench]'",
            highlight=False,
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="sferum-bench-"))
    bench = Bench(args, workdir, console)
    signal.signal(signal.SIGTERM, _interrupted)  # so that the finally below runs on SIGTERM too
    try:
        report = bench.run(quix_python)
    except BrokerUnavailable as exc:
        console.print(f"bench: {exc}", highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("bench: interrupted", highlight=False)
        return 130
    finally:
        bench.clean_up(keep=args.keep)
    render(report, console)
    print(final_line({m.key: m.rate for m in report.measures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
