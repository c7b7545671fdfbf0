"""Per-user state as records of bounded size, for the changelog topic and the local store.

A user's state is one *main* record, keyed ``b"u" + user_id``: stream time, the registration and
all-time counters, and per open week its counters and the hashes of its event ids. A week of very
many events (an automated account) would make that record grow without bound, past what Kafka
accepts (1 MB by default): so when a user's weeks hold more than ``MAX_INLINE_IDS`` ids in all, the
largest weeks keep theirs apart, in *chunk* records of at most ``CHUNK_IDS`` ids, keyed
``b"c" + week + index + user_id``; the main record says how many chunks each week has.

Bounds (msgpack: 9 bytes an id): a chunk record at most 16,384 ids = 147 KiB; the main record at
most 8,192 inline ids = 74 KiB, plus about 40 bytes a week. Both stay under ``MAX_RECORD_BYTES``
(256 KiB) whatever one user sends.

Chunks are written whole each time their week changes, and a chunk no longer needed (its week
dropped) gets a tombstone (value None), so a compacted changelog forgets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import msgspec

from stream.core.counting import UserState, WeekState

MAX_INLINE_IDS: Final = 8_192
CHUNK_IDS: Final = 16_384
MAX_RECORD_BYTES: Final = 256 * 1024

_USER: Final = b"u"
_CHUNK: Final = b"c"

_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(UserState)
_ids_decoder = msgspec.msgpack.Decoder(list[int])

#: (key, value): value None is a tombstone.
Entry = tuple[bytes, bytes | None]


def user_key(user_id: str) -> bytes:
    return _USER + user_id.encode()


def user_of(key: bytes) -> str | None:
    """The user of a main record's key, None for any other key."""
    return key[1:].decode() if key[:1] == _USER else None


def chunk_key(user_id: str, week: int, index: int) -> bytes:
    return _CHUNK + week.to_bytes(4, "big", signed=True) + index.to_bytes(4, "big") + user_id.encode()


def encode_user(user_id: str, state: UserState, stored: dict[int, int]) -> tuple[list[Entry], dict[int, int]]:
    """The records of a user's state, and the chunks each week has in storage once they are
    written. ``stored``: the chunks each week has in storage now (from ``decode_user``, or the
    last encode that was written)."""
    weeks = state.weeks
    spill: set[int] = set()
    inline = sum(len(held.ids) for held in weeks.values())
    for week in sorted(weeks, key=lambda w: len(weeks[w].ids), reverse=True):
        if inline <= MAX_INLINE_IDS:
            break
        spill.add(week)
        inline -= len(weeks[week].ids)
    entries: list[Entry] = []
    chunks_now: dict[int, int] = {}
    if spill:
        stored_weeks = {}
        for week, held in weeks.items():
            if week not in spill:
                stored_weeks[week] = held
                continue
            ids = sorted(held.ids)
            count = (len(ids) + CHUNK_IDS - 1) // CHUNK_IDS
            for index in range(count):
                part = ids[index * CHUNK_IDS : (index + 1) * CHUNK_IDS]
                entries.append((chunk_key(user_id, week, index), _encoder.encode(part)))
            chunks_now[week] = count
            stored_weeks[week] = WeekState(set(), held.teacher, held.staff, count)
        main = UserState(state.stream_time, stored_weeks, state.teacher_since, state.teacher_totals)
    else:
        main = state
    for week, count in stored.items():
        for index in range(chunks_now.get(week, 0), count):
            entries.append((chunk_key(user_id, week, index), None))
    entries.append((user_key(user_id), _encoder.encode(main)))
    return entries, chunks_now


def decode_user(
    user_id: str, main: bytes | None, read: Callable[[bytes], bytes | None]
) -> tuple[UserState, dict[int, int]]:
    """A user's state from its main record (None: a new user) and ``read`` for its chunks; and the
    chunks each week has in storage."""
    if main is None:
        return UserState(), {}
    state = _state_decoder.decode(main)
    stored: dict[int, int] = {}
    for week, held in state.weeks.items():
        if held.spilled:
            stored[week] = held.spilled
            for index in range(held.spilled):
                raw = read(chunk_key(user_id, week, index))
                if raw is None:
                    raise ValueError(f"chunk {index} of a week is missing from the store")
                held.ids.update(_ids_decoder.decode(raw))
            held.spilled = 0
    return state, stored


def record_sizes(entries: Iterable[Entry]) -> list[int]:
    return [len(key) + len(value or b"") for key, value in entries]
