"""A worker's store against ``replay`` of the same events: ``teacher_week``, ``staff_week``,
registrations, ``kpi_unit_week`` and the dead letters (bytes and reason), all equal.

Used by ``test_four_topics.py``, and as a script on the demo (eight weeks of the orel profile
through the four default topics)::

    deploy/local/run.sh   # with SFERUM_DEMO_DIR, SFERUM_DATA_DIR, SFERUM_STORE, SFERUM_BROKER set
    python -m tests.tools.backfill_check --demo "$SFERUM_DEMO_DIR" \\
        --store "$SFERUM_STORE" --broker "$SFERUM_BROKER" --dead-letter-topic sferum.dead-letter

It replays the demo's ``events.ndjson`` into a store of its own, loads the registry there, and
prints what it compared.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from tests.support.paths import run_cli
from tests.support.readers import read_dead_letter_file, read_dead_letter_topic, read_staff_week, read_tables
from tests.tools.faults import read_kpi


def assert_same_as_replay(worker_store: str, broker: str, dead_letter_topic: str, replayed: tuple[str, Path]) -> str:
    """Assert the worker's store equals the replayed one; return what was compared, in one line."""
    store, dead = replayed
    teacher_week, registrations = read_tables(worker_store)
    assert (teacher_week, registrations) == read_tables(store)
    staff_week = read_staff_week(worker_store)
    assert staff_week == read_staff_week(store)
    got_kpi, want_kpi = read_kpi(worker_store), read_kpi(store)
    assert len(want_kpi) > 100
    assert got_kpi.keys() == want_kpi.keys()
    for key, want in want_kpi.items():
        got = got_kpi[key]
        assert {k: v for k, v in got.items() if k != "computed_at"} == {
            k: v for k, v in want.items() if k != "computed_at"
        }
    want_letters = Counter(read_dead_letter_file(dead))
    letters = read_dead_letter_topic(broker, dead_letter_topic, expected=sum(want_letters.values()))
    got_letters = Counter((value, headers["reason"]) for value, headers in letters)
    assert got_letters == want_letters
    by_reason = Counter(reason for (_, reason), n in got_letters.items() for _ in range(n))
    return (
        f"equal: {len(teacher_week):,} teacher_week rows, {len(staff_week):,} staff_week rows, "
        f"{len(registrations):,} registrations, {len(want_kpi):,} kpi_unit_week rows, "
        f"dead letters {dict(sorted(by_reason.items()))}"
    )


def replay(events: Path, registry: Path, base: Path) -> tuple[str, Path]:
    """``replay`` of the events into a store under ``base``, registry loaded: (its DSN, its dead letters)."""
    env = {"SFERUM_STORE": f"chdb://{base / 'store'}"}
    done = run_cli("replay", "--dead-letter", str(base / "dead.ndjson"), str(events), env=env, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = run_cli("load-registry", str(registry), env=env)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    return env["SFERUM_STORE"], base / "dead.ndjson"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, required=True, help="the demo dir: events.ndjson and registry/")
    parser.add_argument("--store", required=True, help="the worker's store DSN (chdb:///abs/path)")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--dead-letter-topic", default="sferum.dead-letter")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sferum-backfill-check-") as tmp:
        replayed = replay(args.demo / "events.ndjson", args.demo / "registry", Path(tmp))
        print(assert_same_as_replay(args.store, args.broker, args.dead_letter_topic, replayed))


if __name__ == "__main__":
    main()
