"""``stream.state``: a user's state as records of bounded size, whatever one account sends, and the
partition's users over its local store (what a checkpoint takes, writes, or gives back)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.core.counting import Counters, UserState, WeekState, id_hash
from stream.state.codec import (
    CHUNK_IDS,
    MAX_INLINE_IDS,
    MAX_RECORD_BYTES,
    chunk_key,
    decode_user,
    encode_user,
    user_key,
)
from stream.state.store import PartitionStore
from stream.state.users import PartitionUsers

W1, W2 = 20_000, 20_007  # two weeks (days since the epoch)


def state_with(ids_per_week: dict[int, int]) -> UserState:
    weeks = {
        week: WeekState(ids={id_hash(f"{week}-{i}") for i in range(n)}, teacher=Counters(activity=n, group_messages=n))
        for week, n in ids_per_week.items()
    }
    return UserState(stream_time=1, weeks=weeks)


def decode(user: str, entries: list[tuple[bytes, bytes | None]]) -> UserState:
    stored = {key: value for key, value in entries if value is not None}
    return decode_user(user, stored[user_key(user)], stored.get)[0]


def test_an_ordinary_user_is_one_record() -> None:
    state = state_with({W1: 30, W2: 5})
    entries, chunks = encode_user("t-1", state, {})
    assert [key for key, _ in entries] == [user_key("t-1")] and chunks == {}
    assert decode("t-1", entries) == state


def test_a_week_of_200000_events_is_split_into_records_of_at_most_256_kib() -> None:
    state = state_with({W1: 200_000, W2: 10})
    entries, chunks = encode_user("hot", state, {})
    sizes = [len(key) + len(value or b"") for key, value in entries]
    assert max(sizes) <= MAX_RECORD_BYTES
    assert chunks == {W1: -(-200_000 // CHUNK_IDS)} == {W1: 13}
    assert len(entries) == 13 + 1
    assert decode("hot", entries) == state  # every id back, the counters too


def test_the_largest_weeks_spill_until_the_main_record_holds_at_most_the_inline_ids() -> None:
    state = state_with({W1: MAX_INLINE_IDS, W2: 100})  # together over the inline bound
    entries, chunks = encode_user("t-1", state, {})
    assert set(chunks) == {W1}
    assert decode("t-1", entries) == state


def test_chunks_of_a_dropped_week_get_tombstones() -> None:
    state = state_with({W1: 40_000, W2: 10})
    _, chunks = encode_user("t-1", state, {})
    del state.weeks[W1]
    entries, now = encode_user("t-1", state, chunks)
    assert now == {}
    assert [key for key, value in entries if value is None] == [chunk_key("t-1", W1, i) for i in range(3)]


def test_a_growing_week_moves_from_the_main_record_to_chunks() -> None:
    state = state_with({W1: 10})
    _, chunks = encode_user("t-1", state, {})
    state.weeks[W1].ids |= {id_hash(f"more-{i}") for i in range(MAX_INLINE_IDS)}
    entries, chunks = encode_user("t-1", state, chunks)
    assert chunks == {W1: 1}
    assert decode("t-1", entries) == state


def test_a_missing_chunk_is_an_error_not_a_smaller_state() -> None:
    entries, _ = encode_user("hot", state_with({W1: 20_000}), {})
    stored = {key: value for key, value in entries if key != chunk_key("hot", W1, 1)}
    with pytest.raises(ValueError, match="missing"):
        decode_user("hot", stored[user_key("hot")], stored.get)


# The partition's users over the store ----------------------------------------------------------


def users(tmp_path: Path) -> PartitionUsers:
    return PartitionUsers(PartitionStore(tmp_path / "store"))


def test_changes_reach_the_store_only_when_committed(tmp_path: Path) -> None:
    part = users(tmp_path)
    part.load("t-1").stream_time = 5
    part.changed("t-1")
    changes = part.take_changes()
    assert part.store.get(user_key("t-1")) is None  # taken, not committed
    part.committed(changes, changelog_next=42)
    assert part.store.changelog_next() == 42
    fresh = PartitionUsers(part.store)
    assert fresh.load("t-1").stream_time == 5


def test_a_failed_transaction_sends_the_newer_state_next_time(tmp_path: Path) -> None:
    part = users(tmp_path)
    part.load("t-1").stream_time = 5
    part.changed("t-1")
    failed = part.take_changes()
    part.load("t-1").stream_time = 9  # applied meanwhile
    part.restore_changes(failed)
    again = part.take_changes()
    assert again.users == {"t-1"}
    part.committed(again, changelog_next=7)
    assert PartitionUsers(part.store).load("t-1").stream_time == 9


def test_a_hot_user_round_trips_through_the_store(tmp_path: Path) -> None:
    part = users(tmp_path)
    state = part.load("hot")
    state.weeks[W1] = WeekState(ids={id_hash(str(i)) for i in range(50_000)}, teacher=Counters(activity=50_000))
    part.changed("hot")
    part.committed(part.take_changes(), changelog_next=1)
    assert PartitionUsers(part.store).load("hot") == state
    # the week closes: its chunks are deleted from the store
    del state.weeks[W1]
    part.changed("hot")
    part.committed(part.take_changes(), changelog_next=2)
    assert part.store.get(chunk_key("hot", W1, 0)) is None
    assert PartitionUsers(part.store).load("hot").weeks == {}
