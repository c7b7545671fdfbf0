"""The local store of one partition's state: RocksDB (rocksdict), written only with what the
changelog topic has committed, together with how far into the changelog that is.

The store is never ahead of the changelog: the worker writes to it after the Kafka transaction
that carried the same records has committed (``stream.kafka.checkpoint``). So after a crash the
store plus the changelog's records after ``changelog_next`` is exactly the committed state, on
this node or on any other (a new node starts from an empty store).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final, cast

from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch

from stream.state.codec import Entry

#: Kept in the local store only, never in the changelog (keys there start with b"u" or b"c").
_CHANGELOG_NEXT: Final = b"m:changelog-next"

#: Memory per partition store: RocksDB's defaults (64 MiB write buffers, several of them) would
#: make the worker's resident memory grow with the data; these bound it to about 24 MiB a store.
WRITE_BUFFER_BYTES: Final = 4 * 1024 * 1024
BLOCK_CACHE_BYTES: Final = 8 * 1024 * 1024


def _options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(WRITE_BUFFER_BYTES)
    options.set_max_write_buffer_number(2)
    table = BlockBasedOptions()
    table.set_block_cache(Cache(BLOCK_CACHE_BYTES))
    options.set_block_based_table_factory(table)
    return options


class PartitionStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = Rdict(str(path), options=_options())

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)
        return value

    def keys(self, start: bytes) -> Iterator[bytes]:
        """The keys from ``start`` on, in order."""
        keys = self._db.keys(from_key=start)  # raw mode: bytes
        return cast(Iterator[bytes], keys)

    def changelog_next(self) -> int:
        """The changelog offset the store is complete up to (0: nothing read yet)."""
        raw = self._db.get(_CHANGELOG_NEXT)
        return 0 if raw is None else int(raw)

    def write(self, entries: Iterable[Entry], changelog_next: int | None) -> None:
        """Apply entries (None: delete) and, if given, the new changelog position, atomically."""
        batch = WriteBatch(raw_mode=True)
        for key, value in entries:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        if changelog_next is not None:
            batch.put(_CHANGELOG_NEXT, str(changelog_next).encode())
        self._db.write(batch)

    def wipe(self) -> None:
        """Forget everything (the changelog is restored from its start afterwards)."""
        self._db.close()
        shutil.rmtree(self.path, ignore_errors=True)
        self._db = Rdict(str(self.path), options=_options())

    def close(self) -> None:
        self._db.close()
