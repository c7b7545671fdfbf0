"""Moving to more partitions (docs/operations.md): the input of a 4-partition deployment copied by
``repartition`` into 8-partition topics, counted there from the start by a new consumer group,
gives ``teacher_week`` equal to an independent computation; the copy is exact, keeps each user's
events in order in the partition the key hashes to, and a second run copies only what came since.

One mixed input topic: Kafka then orders each user's events as the file does, so the oracle
processes the lines in file order (``tests/support/oracle.py``)."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from aiokafka.partitioner import murmur2

from tests.conftest import run_cli
from tests.support.eventgen import GenConfig, generate
from tests.support.oracle import expected
from tests.support.readers import read_tables, read_topic

pytestmark = pytest.mark.integration

#: Kafka's own test vectors of the Java client's murmur2 (UtilsTest.testMurmur2), as signed ints.
KAFKA_MURMUR2 = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536, b"abc": 479470107}


def _by_key(records: dict[tuple[int, int], tuple[bytes | None, bytes]]) -> dict[bytes, list[bytes]]:
    """Each key's values in the order a consumer of its partition reads them. Records without a
    key (lines without a user_id, dead-lettered) go to any partition: they have no order to keep."""
    values: dict[bytes, list[bytes]] = defaultdict(list)
    for (_, _), (key, value) in sorted(records.items()):
        if key is not None:
            values[key].append(value)
    return values


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _env(broker: str, name: str, base: Path, *, topic: str, partitions: int, store: str) -> dict[str, str]:
    return {
        "SFERUM_BROKER": broker,
        "SFERUM_APP_ID": name,
        "SFERUM_INPUT_TOPICS": topic,
        "SFERUM_DEAD_LETTER_TOPIC": f"{name}.dead-letter",
        "SFERUM_PARTITIONS": str(partitions),
        "SFERUM_DATA_DIR": str(base / name),
        "SFERUM_STORE": f"chdb://{base / store}",
        "SFERUM_WEB_ENABLED": "false",
    }


def _ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout  # type: ignore[no-any-return]


def test_murmur2_is_the_java_clients() -> None:
    """The copy's producer partitions by key as the Java producers upstream do, so a user's events
    written straight to the new topics after the switch land where their copied events are."""
    for data, signed in KAFKA_MURMUR2.items():
        assert murmur2(data) & 0xFFFFFFFF == signed & 0xFFFFFFFF, data


def test_four_partitions_to_eight_by_copy_and_rebuild(broker: str, unique: str, tmp_path: Path) -> None:
    lines = generate(GenConfig(events=6_000, weeks=3, teachers=300))
    cut = len(lines) * 2 // 3
    first, second = _write(tmp_path / "first.ndjson", lines[:cut]), _write(tmp_path / "second.ndjson", lines[cut:])
    truth = expected(lines, now_ms=int(time.time() * 1000))
    old_topic, new_topic = f"{unique}.events", f"{unique}.events.p8"
    old = _env(broker, f"{unique}-a", tmp_path, topic=old_topic, partitions=4, store="store-a")
    new = _env(broker, f"{unique}-b", tmp_path, topic=new_topic, partitions=8, store="store-b")
    copy = ["repartition", "--partitions", "8", "--suffix", ".p8"]

    # the deployment as it runs: 4 partitions, part of the input, counted
    _ok(run_cli("produce", "--topic", old_topic, str(first), env=old))
    _ok(run_cli("worker", "--drain", env=old, timeout=600))
    # the copy while the producers still write the old topics, then more input arrives there
    assert _ok(run_cli(*copy, env=old)).strip() == f"{cut} records {old_topic} → {new_topic}"
    _ok(run_cli("produce", "--topic", old_topic, str(second), env=old))
    _ok(run_cli("worker", "--drain", env=old, timeout=600))
    # the producers switched to the new topics: the tail is copied, and only the tail
    assert _ok(run_cli(*copy, env=old)).strip() == f"{len(lines) - cut} records {old_topic} → {new_topic}"
    assert _ok(run_cli(*copy, env=old)).strip() == f"0 records {old_topic} → {new_topic}"

    source, copied = read_topic(broker, old_topic), read_topic(broker, new_topic)
    assert {p for p, _ in source} == set(range(4))
    assert {p for p, _ in copied} == set(range(8))
    assert Counter(copied.values()) == Counter(source.values())  # every record once, none added
    assert _by_key(copied) == _by_key(source)  # each key's records in their order
    partition_of: dict[bytes | None, set[int]] = defaultdict(set)
    for (partition, _), (key, _) in copied.items():
        partition_of[key].add(partition)
    for key, partitions in partition_of.items():
        if key is not None:
            assert partitions == {(murmur2(key) & 0x7FFFFFFF) % 8}, key

    # the new group counts the new topics from the start, into a store of its own here (in the
    # procedure, the same store: its rows are then written again with the same versions). The copy
    # wrote in transactions: each partition ends with a transaction marker, which the drain's
    # commit must reach (it stopped at the last record, and the drain waited forever).
    _ok(run_cli("worker", "--drain", env=new, timeout=600))
    rebuilt_weeks, rebuilt_registrations = read_tables(new["SFERUM_STORE"])
    assert rebuilt_weeks == truth.teacher_week
    assert rebuilt_registrations == truth.registrations
    assert read_tables(old["SFERUM_STORE"]) == (truth.teacher_week, truth.registrations)
    # the new topics with the new count, its changelog too
    changelog = read_topic(broker, f"{unique}-b-state-changelog")
    assert {p for p, _ in changelog} == set(range(8))
