"""Counts stay exact through faults: repeated SIGKILLs of the worker, a rebalance in which a member
dies, two rebalances less than a second apart, a member frozen past its session and resumed, the
broker and the worker killed then a fail-over to a fresh node, a ClickHouse outage, a broker
restart, four worker processes over 16 partitions through rolling restarts and a SIGKILL
(``tests/tools/scale_out.py``). Each test compares ``teacher_week FINAL``, ``staff_week
FINAL`` and ``registrations FINAL`` with the independent oracle, ``kpi_unit_week`` (the registry loaded first) with the
independent KPI oracle, checks that no row version was written with two different sets of
counts, and that the dead-letter topic holds every expected rejection exactly once and nothing
else.

Each run takes a random seed (printed at the end of the session; ``SFERUM_FAULT_SEED`` fixes it):
over many CI runs the scenarios see many timings. The scenarios live in
``tests/tools/faults.py``; ``tests/tools/soak.py`` runs them over many seeds.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fault_seed
from tests.tools.faults import (
    Report,
    can_freeze,
    run_broker_restart,
    run_crash,
    run_double_rebalance,
    run_failover,
    run_frozen,
    run_hot_key,
    run_outage,
    run_rebalance,
)
from tests.tools.scale_out import run_scale_out

pytestmark = pytest.mark.integration

EVENTS = 30_000


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    # never leave an immutable directory behind (pytest could not remove it)
    subprocess.run(["chattr", "-R", "-i", str(tmp_path)], capture_output=True)


def assert_exact(report: Report) -> None:
    """Each check fails with the report's summary (its first differing rows), never with pytest's
    diff of the two sides: a diff of ten thousand rows took longer than the test's timeout."""
    print("\n" + report.summary())
    result = report.result
    assert result is not None
    checks = {
        "teacher_week equals the oracle": result.teacher_week == result.truth.teacher_week,
        "staff_week equals the oracle": result.staff_week == result.truth.staff_week,
        "registrations equal the oracle": result.registrations == result.truth.registrations,
        # the indicators view, as the workers refreshed it, against the independent KPI oracle
        "over 100 indicator rows expected": len(result.kpi_truth) > 100,
        "kpi_unit_week equals the KPI oracle": result.kpi_exact,
        "no row version with two sets of counts": not result.conflicting_versions,
        "no dead letter missing": not result.dead_letters_missing,
        "no unexpected dead letter": not result.dead_letters_unexpected,
        "each dead letter once": result.dead_letters_extra_copies == 0,
        "no counted event dead-lettered as late": not result.dead_letters_late_rereads,
    }
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        pytest.fail(f"not exact: {'; '.join(failed)}\n{report.summary()}", pytrace=False)


def test_repeated_sigkills_of_the_worker_leave_counts_exact(broker: str, work: Path) -> None:
    report = run_crash(broker, work, events=EVENTS, kills=5, seed=fault_seed("crash"))
    assert report.faults == 5
    assert report.runs == 6  # five killed runs, then worker --drain
    # the faults hit a working worker: at least one kill came after that run had committed and
    # before the input was all committed (work in flight was lost and had to be re-read)
    assert report.facts["kills_mid_run"] >= 1, report.summary()
    assert_exact(report)


def test_a_member_killed_after_a_rebalance_is_taken_over_exactly(broker: str, work: Path) -> None:
    report = run_rebalance(broker, work, events=EVENTS, seed=fault_seed("rebalance"), produce_seconds=30)
    assert report.faults == 1
    assert report.survived, report.summary()
    assert_exact(report)


def test_two_rebalances_less_than_a_second_apart_then_a_member_killed(broker: str, work: Path) -> None:
    report = run_double_rebalance(broker, work, events=EVENTS, seed=fault_seed("double-rebalance"), produce_seconds=35)
    assert report.faults == 3
    assert report.survived, report.summary()
    assert_exact(report)


def test_a_member_frozen_past_its_session_cannot_commit_for_partitions_it_lost(broker: str, work: Path) -> None:
    report = run_frozen(broker, work, events=EVENTS, seed=fault_seed("frozen"), produce_seconds=45)
    assert report.faults == 1
    assert report.survived, report.summary()
    assert_exact(report)


def test_broker_and_worker_killed_then_a_fresh_node_takes_over_exactly(broker: str, work: Path) -> None:
    # regression: the local store got ahead of the changelog, and a fresh node restored less
    # twice the events: the backlog must outlast the time it takes to see the first commit
    report = run_failover(broker, work, events=2 * EVENTS, seed=fault_seed("failover"))
    assert report.faults == 2 and report.runs == 3
    assert_exact(report)


def test_a_clickhouse_outage_of_35_s_delays_but_never_loses_counts(broker: str, work: Path) -> None:
    reason = can_freeze(work)
    if reason is not None:
        pytest.fail(f"cannot make the embedded store refuse writes here: {reason}", pytrace=False)
    report = run_outage(broker, work, events=EVENTS, outage_s=35.0, seed=fault_seed("outage"))
    assert report.faults == 1
    assert report.survived, report.summary()
    assert_exact(report)


def test_a_broker_restart_mid_run_leaves_counts_exact(broker: str, work: Path) -> None:
    report = run_broker_restart(broker, work, events=EVENTS, how="restart", seed=fault_seed("broker-restart"))
    assert report.faults == 1
    assert report.survived, report.summary()  # the worker got through by itself, no new --drain
    assert_exact(report)


def test_one_account_with_200000_events_in_a_week_is_counted_exactly_in_bounded_records(
    broker: str, work: Path
) -> None:
    report = run_hot_key(broker, work, hot=200_000, seed=fault_seed("hot-key"))
    assert report.faults == 1
    assert report.facts["changelog_chunk_records"] > 0  # the account's ids did not fit one record
    assert report.facts["changelog_largest_record_bytes"] <= 256 * 1024
    assert report.facts["hot_warnings"] >= 1  # reported as hot (a warning; the metric and alert too)
    assert_exact(report)


def test_four_workers_over_16_partitions_through_rolling_restarts_and_a_sigkill_stay_exact(
    broker: str, work: Path
) -> None:
    """Four worker processes (static members) share 16 partitions under a live stream; each is
    restarted in turn with SIGTERM, then one is SIGKILLed and restarted (at once, or after its
    session expired: by the seed). The rolling restarts move no partition (the group's assignment
    read from the broker before and after each) and cause no rebalance."""
    report = run_scale_out(broker, work, events=20_000, seed=fault_seed("scale-out"))
    assert report.faults == 5 and report.runs == 9
    assert report.facts["rolling_partitions_moved"] == 0, report.summary()
    assert report.checks and all(report.checks.values()), report.summary()
    assert_exact(report)
