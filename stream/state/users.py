"""The users of one partition: live states in memory over the partition's local store.

It is the worker's ``StateAccess``: a batch loads each user once (from memory, or decoded from
the store) and marks the users it changed. A checkpoint takes the changed users' records
(``take_changes``), and once the transaction carrying them has committed, hands them back
(``committed``) to be written to the store; if it failed, ``restore_changes`` marks those users
changed again, and the next checkpoint sends their newer state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from stream.core.counting import UserState
from stream.state.codec import Entry, decode_user, encode_user, user_key, user_of
from stream.state.store import PartitionStore

#: Users whose state stays in memory after a checkpoint, unchanged since: a user active again soon
#: is not decoded again. The rest are read back from the store when needed.
CLEAN_USERS_KEPT: Final = 5_000


@dataclass(slots=True)
class Changes:
    """The records of the users a checkpoint takes, and the chunks they leave in storage."""

    users: set[str] = field(default_factory=set)
    entries: list[Entry] = field(default_factory=list)
    chunks: dict[str, dict[int, int]] = field(default_factory=dict)


class PartitionUsers:
    def __init__(self, store: PartitionStore, on_change: Callable[[str, UserState], None] | None = None) -> None:
        self.store = store
        self._on_change = on_change  # told each user whose state a batch changed
        self._live: dict[str, UserState] = {}
        self._chunks: dict[str, dict[int, int]] = {}  # users with chunk records in storage
        self.dirty: set[str] = set()

    def load(self, user_id: str) -> UserState:
        state = self._live.get(user_id)
        if state is None:
            state, chunks = decode_user(user_id, self.store.get(user_key(user_id)), self.store.get)
            self._live[user_id] = state
            if chunks:
                self._chunks[user_id] = chunks
        return state

    def changed(self, user_id: str) -> None:
        self.dirty.add(user_id)
        if self._on_change is not None:
            self._on_change(user_id, self._live[user_id])

    def take_changes(self) -> Changes:
        changes = Changes(users=self.dirty)
        self.dirty = set()
        for user_id in changes.users:
            entries, chunks = encode_user(user_id, self._live[user_id], self._chunks.get(user_id, {}))
            changes.entries.extend(entries)
            changes.chunks[user_id] = chunks
        return changes

    def restore_changes(self, changes: Changes) -> None:
        """The transaction carrying ``changes`` failed: send those users again next time."""
        self.dirty |= changes.users

    def committed(self, changes: Changes, changelog_next: int | None) -> None:
        """The transaction carrying ``changes`` committed: write them to the store; keep in memory
        at most ``CLEAN_USERS_KEPT`` users with no change since."""
        self.store.write(changes.entries, changelog_next)
        for user_id, chunks in changes.chunks.items():
            if chunks:
                self._chunks[user_id] = chunks
            else:
                self._chunks.pop(user_id, None)
        clean = len(self._live) - len(self.dirty)
        if clean > CLEAN_USERS_KEPT:
            for user_id in [u for u in self._live if u not in self.dirty][: clean - CLEAN_USERS_KEPT]:
                del self._live[user_id]
                self._chunks.pop(user_id, None)

    def stored_users(self) -> Iterator[tuple[str, UserState]]:
        """Every user of the store with its committed state (for the gauges after a restore)."""
        for key in self.store.keys(user_key("")):
            user_id = user_of(key)
            if user_id is None:
                break
            yield user_id, decode_user(user_id, self.store.get(key), self.store.get)[0]
