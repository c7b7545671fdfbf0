"""Scale-out (issue 15): four ``sferum-kpi worker`` processes share one input topic of 16
partitions while a live stream comes in; each worker is restarted in turn (a rolling restart:
SIGTERM, then started again with the same instance id and data dir), then one is SIGKILLed and
restarted; the workers finish the stream; their four embedded stores, merged by highest row
version (``faults.merged_verdict``, as a shared ClickHouse server would hold them), must equal the
independent oracle: ``teacher_week``, ``staff_week``, ``registrations``, ``kpi_unit_week``, and
every dead letter exactly once.

Each worker is a static member of the group (``SFERUM_INSTANCE_ID`` = its node name): a member
that restarts within the session timeout keeps its place, so the group does not rebalance and no
partition moves. That is checked from the broker: the group's assignment (instance id ->
partitions, ``tests/support/group_members.py``) is read before and after every restart, and the
group polled while the worker is away (state, members); and from the workers: the group's
generation, which every member logs as it joins, is the same after a rolling restart as before (a
rebalance makes a new generation, and every worker drop and start its tasks, even when the
assignment comes out the same).

The SIGKILL: the worker is restarted at once (the usual case: a crashed pod started again), or,
chosen by the seed, only after the group has dropped it (its session expired), so that its
partitions move to the three others and back. A partition may move only in the second case: when
the time from the kill to the member being seen back in the group is under the session timeout
minus a heartbeat interval (so the broker cannot have expired the session), no partition may move.

Runnable at any size, printing the figures::

    python -m tests.tools.soak scale-out --runs 1 --events 500000 --seed 5 --broker 127.0.0.1:9092
    python -m tests.tools.scale_out --events 500000 --seed 5 --broker 127.0.0.1:9092
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from stream.kafka.clients import connection_to
from tests.support.group_members import Membership, membership, moved
from tests.tools.faults import (
    FaultError,
    Producer,
    Report,
    Scenario,
    Worker,
    all_advanced,
    cleaning,
    committed,
    merged_verdict,
    wait_for,
)

#: What a worker logs (at INFO) each time it starts a partition's task (``stream.kafka.lifecycle``).
TASK_STARTED = re.compile(rb"partition \d+: started")
#: What aiokafka logs (at INFO) as a member joins the group: a rebalance makes a new generation.
JOINED = re.compile(rb"Joined group '[^']*' \(generation (\d+)\)")
#: A stage waits this long at most for every partition to commit past where it stood.
STAGE_TIMEOUT_S = 600.0


@dataclass
class Away:
    """What the group looked like, polled while a member was restarting."""

    states: set[str] = field(default_factory=set)
    fewest_members: int = 1 << 30


@dataclass
class Fleet:
    """The scenario's workers, one per node; node ``wN`` is the static member with instance id ``wN``."""

    scenario: Scenario
    nodes: list[str]
    settings: dict[str, str]
    workers: dict[str, Worker] = field(default_factory=dict)

    def start(self, node: str) -> Worker:
        # unbuffered: the scenario reads the logs as the workers run (their task starts)
        worker = self.scenario.worker(
            node, log_level="info", SFERUM_INSTANCE_ID=node, PYTHONUNBUFFERED="1", **self.settings
        )
        self.workers[node] = worker
        return worker

    def group(self) -> Membership | None:
        try:
            return membership(self.scenario.name, **connection_to(self.scenario.broker, request_timeout_ms=10_000))
        except Exception:  # no coordinator yet, or the broker is busy: asked again
            return None

    def settled(self, nodes: list[str], *, rejoined: dict[str, str] | None = None) -> Membership | None:
        """The group, when it is Stable with exactly ``nodes`` as members, every partition
        assigned to one of them, and each node of ``rejoined`` under another member id than the
        one given (it joined again); else None."""
        group = self.group()
        if group is None or group.state != "Stable" or not group.covers(self.scenario.topic, self.scenario.partitions):
            return None
        ids = group.member_ids()
        if sorted(ids) != sorted(nodes) or len(group.members) != len(nodes):
            return None
        if any(ids[node] == old for node, old in (rejoined or {}).items()):
            return None
        return group

    def wait_settled(
        self, what: str, nodes: list[str], *, rejoined: dict[str, str] | None = None, away: Away | None = None
    ) -> Membership:
        found: list[Membership] = []

        def ready() -> bool:
            if away is not None:
                group = self.group()
                if group is not None:
                    away.states.add(group.state)
                    away.fewest_members = min(away.fewest_members, len(group.members))
            for node in rejoined or {}:
                if not self.workers[node].alive:
                    raise FaultError(f"worker {node} died:\n{self.workers[node].tail()}")
            group = self.settled(nodes, rejoined=rejoined)
            if group is not None:
                found.append(group)
            return group is not None

        wait_for(what, ready, 300, 0.25)
        return found[-1]

    def task_starts(self, node: str) -> int:
        """Partition tasks the node's processes have started so far (their log, appended)."""
        return len(TASK_STARTED.findall(self.workers[node].log.read_bytes()))

    def generation(self) -> int:
        """The newest generation of the group any worker joined."""
        return max((int(g) for w in self.workers.values() for g in JOINED.findall(w.log.read_bytes())), default=0)

    def alive_and(self, predicate: Callable[[], bool]) -> Callable[[], bool]:
        """``predicate`` for ``wait_for``, raising FaultError as soon as a worker has died."""

        def check() -> bool:
            dead = [node for node, w in self.workers.items() if not w.alive]
            if dead:
                raise FaultError(f"worker {dead[0]} died:\n{self.workers[dead[0]].tail()}")
            return predicate()

        return check


@dataclass
class Restart:
    node: str
    how: str
    exit_code: int
    stop_s: float  # signal to the process gone
    back_s: float  # signal to the new process seen in the group (an upper bound: polled)
    restart_s: float  # the process gone to the new one seen in the group (an upper bound: polled)
    moved: list[int]
    away: Away


def _restart(fleet: Fleet, node: str, *, how: str, late: bool = False) -> tuple[Restart, Membership]:
    """Stop one node (``how``: "SIGTERM" or "SIGKILL") and start it again with the same instance
    id and data dir: at once, or (``late``) once the group has dropped it."""
    scenario = fleet.scenario
    before = fleet.wait_settled("the group to be stable with every worker", fleet.nodes)
    worker = fleet.workers[node]
    signalled = time.monotonic()
    code = worker.terminate(120) if how == "SIGTERM" else worker.kill()
    stop_s = time.monotonic() - signalled
    if how == "SIGTERM" and code != 0:
        raise FaultError(f"worker {node} did not stop cleanly on SIGTERM (exit {code}):\n{worker.tail()}")
    if how == "SIGKILL" and code != -signal.SIGKILL:
        raise FaultError(f"worker {node} was not alive when killed (exit {code}):\n{worker.tail()}")
    away = Away()
    if late:  # its session expires: the others take its partitions
        others = [n for n in fleet.nodes if n != node]
        fleet.wait_settled(f"the group to drop {node} (its session to expire)", others, away=away)
    fleet.start(node)
    after = fleet.wait_settled(
        f"{node} back in the group", fleet.nodes, rejoined={node: before.member_ids()[node]}, away=away
    )
    back_s = time.monotonic() - signalled
    owners_before, owners_after = before.owners(scenario.topic), after.owners(scenario.topic)
    restart = Restart(
        node,
        how,
        code,
        stop_s,
        back_s,
        back_s - stop_s,
        moved(owners_before, owners_after),
        away,
    )
    return restart, after


def _run_scale_out(
    broker: str,
    base: Path,
    *,
    events: int,
    seed: int = 37,
    workers: int = 4,
    partitions: int = 16,
    session_timeout_s: float = 30.0,
    produce_seconds: float | None = None,
    kill_late: bool | None = None,
    weeks: int = 10,
) -> Report:
    """The scenario of the module's docstring. ``kill_late``: restart the SIGKILLed worker only
    after the group dropped it (None: chosen by the seed). ``produce_seconds``: the producer's pace
    over the whole input (default 10 s per stage)."""
    started = time.monotonic()
    rnd = random.Random(seed)
    scenario = Scenario.create(broker, base, events=events, seed=seed, weeks=weeks, partitions=partitions)
    report = Report(
        f"scale-out: {workers} workers, {partitions} partitions, rolling restarts and a SIGKILL", len(scenario.lines)
    )
    nodes = [f"w{i}" for i in range(1, workers + 1)]
    with ThreadPoolExecutor(2) as pool:  # one process per store; two at a time on a small machine
        list(pool.map(scenario.load_registry, [scenario.store(node) for node in nodes]))
    # The input comes in stages: one share while the workers start, one released as each restart
    # begins (the rolling restarts, then the SIGKILL): whatever the machine's speed, each restart
    # happens with input coming.
    stages = workers + 1
    holds = tuple(k / (stages + 1) for k in range(1, stages + 1))
    producer = Producer(broker, scenario.topic, scenario.lines, produce_seconds or 10.0 * (stages + 1), holds=holds)
    fleet = Fleet(
        scenario,
        nodes,
        {
            "SFERUM_SESSION_TIMEOUT_S": f"{session_timeout_s:g}",
            "SFERUM_BATCH_MAX_EVENTS": "2000",
            "SFERUM_FLUSH_INTERVAL_S": "2",
            "SFERUM_KPI_REFRESH_INTERVAL_S": "10",
        },
    )
    stream_started = time.monotonic()
    producer.start()
    for node in nodes:
        fleet.start(node)
    report.runs += workers
    fleet.wait_settled(f"{workers} workers to share the group", nodes)
    wait_for(
        "every partition's first commit",
        fleet.alive_and(lambda: len(committed(broker, scenario.name)) == partitions),
        STAGE_TIMEOUT_S,
        1.0,
    )
    restarts: list[Restart] = []
    plan = [(node, "SIGTERM", False) for node in nodes]
    late = rnd.random() < 0.5 if kill_late is None else kill_late
    plan.append((rnd.choice(nodes), "SIGKILL", late))
    for node, how, restart_late in plan:
        at = committed(broker, scenario.name)
        starts = fleet.task_starts(node)
        generation = fleet.generation()
        producer.release()
        time.sleep(rnd.uniform(0.5, 3.0))  # anywhere in the workers' checkpoint cycle
        restart, group = _restart(fleet, node, how=how, late=restart_late)
        report.runs += 1
        report.faults += 1
        # the restarted worker runs its tasks, and every partition commits past where it stood
        mine = len(group.owners(scenario.topic)[node])
        wait_for(
            f"{node}'s tasks to start and every partition to commit past where it stood before {node}'s {how}",
            fleet.alive_and(
                lambda a=at, n=node, s=starts, m=mine: (
                    fleet.task_starts(n) - s >= m and all_advanced(a, committed(broker, scenario.name), partitions)
                )
            ),
            STAGE_TIMEOUT_S,
            1.0,
        )
        generations = fleet.generation() - generation
        restart.away.states.discard("")
        report.notes.append(
            f"{how} {node}{' (restarted after its session expired)' if restart_late else ''}: exit "
            f"{restart.exit_code}, stopped in {restart.stop_s:.1f} s, back in the group {restart.restart_s:.1f} s "
            f"later; {len(restart.moved)} partitions moved {restart.moved or ''}; "
            f"group states seen while away: {sorted(restart.away.states) or ['(not polled)']}; "
            f"new generations of the group: {generations}"
        )
        restarts.append(restart)
        if how == "SIGTERM":
            report.facts["rolling_partitions_moved"] = report.facts.get("rolling_partitions_moved", 0) + len(
                restart.moved
            )
            report.facts["rolling_new_generations"] = report.facts.get("rolling_new_generations", 0) + generations
            report.facts["rolling_restart_max_s"] = max(
                report.facts.get("rolling_restart_max_s", 0), round(restart.restart_s + 0.5)
            )
            if restart.restart_s >= session_timeout_s:
                raise FaultError(
                    f"{node} took {restart.restart_s:.1f} s from its exit to its return to the group, over the "
                    f"session timeout ({session_timeout_s:g} s): the restart cannot show what static membership does"
                )
        else:
            # The broker expires a member this long after its last heartbeat, which came at most a
            # heartbeat interval (a quarter of the session, stream.kafka.clients) before the kill.
            within = restart.back_s < session_timeout_s * 0.75
            report.facts["kill_partitions_moved"] = len(restart.moved)
            report.facts["kill_within_session"] = int(within)
            report.facts["kill_restarted_late"] = int(restart_late)
            if within:
                report.checks["SIGKILL, restarted within the session timeout: no partition moved"] = not restart.moved
    report.checks["rolling restarts: no partition moved (the group's assignments by instance id)"] = (
        report.facts["rolling_partitions_moved"] == 0
    )
    report.checks["rolling restarts: no rebalance (no new generation; the group Stable with every member)"] = (
        report.facts["rolling_new_generations"] == 0
        and all(
            r.away.states <= {"Stable"} and r.away.fewest_members >= workers for r in restarts if r.how == "SIGTERM"
        )
    )
    producer.finish()
    wait_for(
        "every partition committed to its end",
        fleet.alive_and(scenario.fully_committed),
        STAGE_TIMEOUT_S * 2,
        1.0,
    )
    stream_s = time.monotonic() - stream_started
    report.survived = True
    codes = {node: w.terminate(120) for node, w in fleet.workers.items()}
    report.notes.append(f"the workers stopped with SIGTERM: exit {codes}")
    if any(codes.values()):
        raise FaultError(f"a worker did not stop cleanly: {codes}")
    report.facts["stream_seconds"] = round(stream_s)
    report.facts["events_per_s"] = round(len(scenario.lines) / stream_s)
    report.result = merged_verdict(scenario, nodes, report)
    truth = report.result.truth
    report.facts["rows_compared"] = (
        len(truth.teacher_week) + len(truth.staff_week) + len(truth.registrations) + len(report.result.kpi_truth)
    )
    report.facts["dead_letters_compared"] = len(truth.rejected_lines)
    report.seconds = time.monotonic() - started
    report.notes.append(
        f"figures: {len(scenario.lines):,} events over {partitions} partitions and {workers} workers; first worker "
        f"start to everything committed {stream_s:.0f} s ({report.facts['events_per_s']:,} events/s, paced by the "
        f"producer and the faults); partitions moved: {report.facts['rolling_partitions_moved']} in the rolling "
        f"restarts, {report.facts['kill_partitions_moved']} at the SIGKILL; rows compared: "
        f"{report.facts['rows_compared']:,} and {report.facts['dead_letters_compared']:,} dead letters"
    )
    return report


run_scale_out: Callable[..., Report] = cleaning(_run_scale_out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.tools.scale_out", description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="127.0.0.1:9092", help="host:port of a local broker (kafka.sh)")
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=37)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--session-timeout", type=float, default=30.0, help="SFERUM_SESSION_TIMEOUT_S of the workers")
    parser.add_argument("--produce-seconds", type=float, default=None, help="the producer's pace over the input")
    parser.add_argument(
        "--kill-late",
        choices=("seed", "yes", "no"),
        default="seed",
        help="restart the SIGKILLed worker after its session expired",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, stores)")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="sferum-scale-out-"))
    try:
        report = run_scale_out(
            args.broker,
            base,
            events=args.events,
            seed=args.seed,
            workers=args.workers,
            partitions=args.partitions,
            session_timeout_s=args.session_timeout,
            produce_seconds=args.produce_seconds,
            kill_late=None if args.kill_late == "seed" else args.kill_late == "yes",
        )
    except FaultError as exc:
        print(f"scale-out failed: {exc}\nwork directory: {base}", file=sys.stderr)
        return 1
    print(report.summary())
    ok = report.exact and report.checks_ok and report.result is not None and report.result.dead_letters_ok
    if args.keep or not ok:
        print(f"work directory: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
