"""End to end on the real broker and the embedded ClickHouse: ``worker --drain`` and ``replay``
give ``teacher_week FINAL`` equal, row for row, to an independent computation from the raw lines.

The event set has 100,000 lines with duplicates (over 3 %), reordering within the lateness, late
events, Monday-midnight instants and malformed lines of every kind.
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.eventgen import GenConfig, generate
from tests.support.oracle import Expected, expected
from tests.support.ports import free_port
from tests.support.readers import (
    count_rows,
    read_dead_letter_file,
    read_dead_letter_topic,
    read_staff_week,
    read_tables,
    read_topic,
    reasons,
)

pytestmark = pytest.mark.integration


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _assert_dead_letters(got: list[tuple[bytes, str]], lines: list[bytes], truth: Expected) -> None:
    assert reasons(got) == truth.rejected
    assert Counter(value for value, _ in got) == Counter(lines[i] for i in truth.rejected_lines)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes], Expected]:
    lines = generate(GenConfig(events=100_000, weeks=6))
    path = _write(tmp_path_factory.mktemp("mixed") / "events.ndjson", lines)
    return path, lines, expected(lines, now_ms=int(time.time() * 1000))


def test_generated_set_has_what_the_acceptance_asks_for(mixed: tuple[Path, list[bytes], Expected]) -> None:
    _, lines, truth = mixed
    assert len(lines) >= 100_000
    assert truth.duplicates >= 0.03 * len(lines)
    assert truth.rejected["late"] > 100
    assert set(truth.rejected) >= {"bad_json", "not_object", "missing_field", "bad_value", "unknown_type"}
    assert {"unknown_role", "unknown_chat_kind", "unsupported_version", "future"} <= set(truth.rejected)
    # accounting identity of the oracle itself
    assert truth.consumed == truth.counted + truth.ignored + truth.duplicates + sum(truth.rejected.values())


@pytest.fixture(scope="module")
def worker_result(
    mixed: tuple[Path, list[bytes], Expected], broker: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[tuple[bytes, str]], float]:
    """One mixed topic: Kafka orders each user's events exactly as the file does."""
    path, lines, truth = mixed
    base = tmp_path_factory.mktemp("worker")
    name = f"mixed{int(time.time() * 1000) % 10**9}"
    env = {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": name,
        "SFERUM_INPUT_TOPICS": f"{name}.events",
        "SFERUM_DEAD_LETTER_TOPIC": f"{name}.dead-letter",
        "SFERUM_DATA_DIR": str(base / "data"),
        "SFERUM_STORE": f"chdb://{base / 'store'}",
        "SFERUM_WEB_PORT": str(free_port()),
    }
    produced = run_cli("produce", "--topic", f"{name}.events", str(path), env=env)
    assert produced.returncode == 0, produced.stderr[-3000:]
    started = time.perf_counter()
    drained = run_cli("worker", "--drain", env=env, timeout=900)
    seconds = time.perf_counter() - started
    assert drained.returncode == 0, drained.stderr[-5000:]
    letters = read_dead_letter_topic(
        broker, f"{name}.dead-letter", expected=sum(truth.rejected.values()), with_keys=True
    )
    got = [(value, headers["reason"]) for value, headers in letters]
    # each dead letter points at where its message was produced: same bytes, same key there
    source = read_topic(broker, f"{name}.events")
    for value, headers in letters:
        assert headers["source_topic"] == f"{name}.events" and headers["detail"]
        where = (int(headers["source_partition"]), int(headers["source_offset"]))
        assert source[where] == (headers["key"], value), where
    assert len({(h["source_partition"], h["source_offset"]) for _, h in letters}) == len(letters)
    rate = len(lines) / seconds
    print(f"\nworker --drain: {len(lines)} lines in {seconds:.1f} s = {rate:.0f} events/s")
    return env["SFERUM_STORE"], got, seconds


def test_worker_drain_matches_independent_computation(
    mixed: tuple[Path, list[bytes], Expected], worker_result: tuple[str, list[tuple[bytes, str]], float]
) -> None:
    _, _, truth = mixed
    teacher_week, registrations = read_tables(worker_result[0])
    assert len(teacher_week) == len(truth.teacher_week)
    assert teacher_week == truth.teacher_week
    assert registrations == truth.registrations
    assert truth.staff_week and read_staff_week(worker_result[0]) == truth.staff_week


def test_worker_dead_letters_every_malformed_line_with_its_reason(
    mixed: tuple[Path, list[bytes], Expected], worker_result: tuple[str, list[tuple[bytes, str]], float]
) -> None:
    _, lines, truth = mixed
    _assert_dead_letters(worker_result[1], lines, truth)


@pytest.fixture(scope="module")
def replay_result(
    mixed: tuple[Path, list[bytes], Expected], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict, Path]:
    path, _, _ = mixed
    base = tmp_path_factory.mktemp("replay")
    store = f"chdb://{base / 'store'}"
    letters = base / "dead-letter.ndjson"
    done = run_cli("replay", "--json", "--dead-letter", str(letters), str(path), env={"SFERUM_STORE": store})
    assert done.returncode == 0, done.stderr[-3000:]
    return store, json.loads(done.stdout), letters


def test_replay_matches_independent_computation(
    mixed: tuple[Path, list[bytes], Expected], replay_result: tuple[str, dict, Path]
) -> None:
    path, lines, truth = mixed
    store, summary, letters = replay_result
    teacher_week, registrations = read_tables(store)
    assert teacher_week == truth.teacher_week
    assert registrations == truth.registrations
    assert read_staff_week(store) == truth.staff_week
    assert summary["consumed"] == len(lines) == truth.consumed
    assert (summary["counted"], summary["ignored"], summary["duplicates"]) == (
        truth.counted,
        truth.ignored,
        truth.duplicates,
    )
    assert summary["rejected_by_reason"] == dict(truth.rejected)
    total = summary["counted"] + summary["ignored"] + summary["duplicates"] + summary["rejected"]
    assert summary["consumed"] == total
    _assert_dead_letters(read_dead_letter_file(letters), lines, truth)
    # each names its file and line, which holds the same bytes, and says why
    for obj in map(json.loads, letters.read_bytes().splitlines()):
        name, number = obj["source"].rsplit(":", 1)
        assert name == path.name and obj["detail"]
        assert lines[int(number) - 1] == base64.b64decode(obj["original_b64"])
        assert truth.rejected_lines[int(number) - 1] == obj["reason"]


def test_replay_and_worker_write_identical_tables(
    worker_result: tuple[str, list[tuple[bytes, str]], float], replay_result: tuple[str, dict, Path]
) -> None:
    assert read_tables(worker_result[0]) == read_tables(replay_result[0])


def test_second_flush_of_the_same_state_leaves_final_unchanged(
    mixed: tuple[Path, list[bytes], Expected], replay_result: tuple[str, dict, Path]
) -> None:
    path, _, truth = mixed
    store = replay_result[0]
    raw_before = count_rows(store, "teacher_week")
    again = run_cli("replay", "--json", "--dead-letter", "/dev/null", str(path), env={"SFERUM_STORE": store})
    assert again.returncode == 0, again.stderr[-3000:]
    assert count_rows(store, "teacher_week") > raw_before  # every row was written once more
    assert read_tables(store)[0] == truth.teacher_week
