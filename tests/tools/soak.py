"""Run fault scenarios over many seeds and say, run by run, whether any event was lost or counted
twice. Claims of exactness rest on many runs: a scenario that passed 20 times can still fail one
run in seven::

    python -m tests.tools.soak rebalance --runs 150 --broker 127.0.0.1:9092
    python -m tests.tools.soak frozen failover double-rebalance --runs 20 --seed 1000
    python -m tests.tools.soak scale-out --runs 1 --events 500000 --seed 5

Each run is ``tests/tools/faults.py``'s scenario (``scale_out.py``'s for ``scale-out``) with
its own seed (``--seed`` and up), a fresh consumer group, topics, data dirs and stores. One line
per run: the seed, the verdict, events lost and counted twice (by row versions: a row's version is
its number of distinct events), registrations and dead letters missing or extra, seconds; then
the run's figures (``Report.facts``), and any claim besides the counts that failed (``scale-out``:
no partition moved in a rolling restart). A run that is not exact keeps its work directory (logs,
stores) and prints where it is. The last line sums it up, with the
seeds of every run that was not exact. Exit status 1 if any run was not exact or failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.tools import faults, scale_out

SCENARIOS: dict[str, Callable[..., faults.Report]] = {
    "crash": lambda broker, base, events, seed: faults.run_crash(broker, base, events=events, kills=5, seed=seed),
    "rebalance": lambda broker, base, events, seed: faults.run_rebalance(broker, base, events=events, seed=seed),
    "double-rebalance": lambda broker, base, events, seed: faults.run_double_rebalance(
        broker, base, events=events, seed=seed
    ),
    "failover": lambda broker, base, events, seed: faults.run_failover(broker, base, events=events, seed=seed),
    "frozen": lambda broker, base, events, seed: faults.run_frozen(broker, base, events=events, seed=seed),
    "outage": lambda broker, base, events, seed: faults.run_outage(broker, base, events=events, seed=seed),
    # one account's 200,000 events in a week, whatever --events says
    "hot-key": lambda broker, base, events, seed: faults.run_hot_key(broker, base, hot=200_000, seed=seed),
    "broker-restart": lambda broker, base, events, seed: faults.run_broker_restart(
        broker, base, events=events, seed=seed
    ),
    # 4 worker processes, 16 partitions: rolling restarts (static membership) and a SIGKILL
    "scale-out": lambda broker, base, events, seed: scale_out.run_scale_out(broker, base, events=events, seed=seed),
}


@dataclass(frozen=True)
class Tally:
    """What a run's tables and dead letters miss or have twice, against the oracle."""

    lost: int
    doubled: int
    registrations_missing: int
    registrations_extra: int
    dead_letters_missing: int
    dead_letters_extra: int

    @property
    def clean(self) -> bool:
        return not any(
            (
                self.lost,
                self.doubled,
                self.registrations_missing,
                self.registrations_extra,
                self.dead_letters_missing,
                self.dead_letters_extra,
            )
        )


def tally(result: faults.Verdict) -> Tally:
    lost = doubled = 0
    for got_rows, want_rows in (
        (result.teacher_week, result.truth.teacher_week),
        (result.staff_week, result.truth.staff_week),
    ):
        for key in set(got_rows) | set(want_rows):
            got = got_rows.get(key, (0,) * 5)[4]
            want = want_rows.get(key, (0,) * 5)[4]
            lost += max(0, want - got)
            doubled += max(0, got - want)
    return Tally(
        lost,
        doubled,
        len(result.truth.registrations - result.registrations),
        len(result.registrations - result.truth.registrations),
        sum(result.dead_letters_missing.values()),
        sum(result.dead_letters_unexpected.values())
        + sum(result.dead_letters_late_rereads.values())
        + result.dead_letters_extra_copies,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.tools.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="+", choices=sorted(SCENARIOS))
    parser.add_argument("--runs", type=int, default=20, help="runs of each scenario (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first run; the next runs count up")
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--broker", default="127.0.0.1:9092", help="host:port of a local broker (kafka.sh)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory of exact runs too")
    parser.add_argument(
        "--transactional-input",
        action="store_true",
        help="write the input in Kafka transactions, one per chunk of 500 (a marker after each)",
    )
    args = parser.parse_args(argv)
    faults.Producer.transactional = args.transactional_input
    failed: list[str] = []
    done = 0
    for scenario in args.scenarios:
        label = f"{scenario} (transactional input)" if args.transactional_input else scenario
        for seed in range(args.seed, args.seed + args.runs):
            base = Path(tempfile.mkdtemp(prefix=f"sferum-soak-{scenario}-{seed}-"))
            started = time.monotonic()
            try:
                report = SCENARIOS[scenario](args.broker, base, args.events, seed)
            except faults.FaultError as exc:
                print(f"{label} seed={seed} FAILED: {str(exc).splitlines()[0]} ({base})", flush=True)
                failed.append(f"{scenario}:{seed}")
                continue
            finally:
                faults.kill_leftover_workers()
            assert report.result is not None
            counts = tally(report.result)
            exact = report.exact and report.result.dead_letters_ok and counts.clean
            failed_checks = [claim for claim, ok in report.checks.items() if not ok]
            done += 1
            print(
                f"{label} seed={seed} {'exact' if exact else 'NOT EXACT'}"
                f"{' CHECK FAILED' if failed_checks else ''} lost={counts.lost} "
                f"doubled={counts.doubled} registrations_missing={counts.registrations_missing} "
                f"registrations_extra={counts.registrations_extra} dead_letters_missing={counts.dead_letters_missing} "
                f"dead_letters_extra={counts.dead_letters_extra} kpi_exact={report.result.kpi_exact} "
                f"seconds={time.monotonic() - started:.0f}",
                flush=True,
            )
            if report.facts:
                print("  " + " ".join(f"{name}={value}" for name, value in report.facts.items()), flush=True)
            for claim in failed_checks:
                print(f"  check failed: {claim}", flush=True)
            exact = exact and not failed_checks
            if exact and not args.keep:
                shutil.rmtree(base, ignore_errors=True)
            else:
                print(f"  work directory: {base}\n" + "\n".join("  " + line for line in report.summary().splitlines()))
                if not exact:
                    failed.append(f"{scenario}:{seed}")
    print(
        f"soak: {done} runs completed, {len(failed)} not exact or failed" + (f": {' '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
