"""Pseudonymised person ids: the keyed HMAC that replaces every person id before it is stored.

With a key (``SFERUM_ID_KEY``), the id of every teacher, student, parent and staff account is
replaced, in events as they are decoded and in the registry as it is loaded, by

    pseudonym(id) = hex(HMAC-SHA256(key, UTF-8 bytes of id))[:32]

(128 bits, 32 lowercase hex digits). The same id always gives the same pseudonym under one key,
so counting, deduplication and the registry joins work on pseudonyms exactly as on ids, while
ClickHouse, the worker's state, its changelog, logs and metrics never see a platform id. Ids of
schools, municipalities and regions are public organisations' and stay as they are. Without a
key, ids pass through unchanged. docs/security.md says how to rotate the key.

An operator who holds the key can find one person's rows (e.g. for a request under 152-FZ)::

    printf %s 'teacher-id' | openssl dgst -sha256 -hmac "$SFERUM_ID_KEY" | cut -c1-32   # (after "= ")
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import lru_cache
from typing import Final

#: Hex digits kept of the HMAC-SHA256 (128 bits: no collision among billions of ids).
PSEUDONYM_HEX_DIGITS: Final = 32
#: The smallest key accepted, in bytes (a key of 32 random bytes written as 64 hex digits is usual).
MIN_KEY_BYTES: Final = 32
#: Ids remembered with their pseudonym by one process. The HMAC costs about as much as decoding
#: the whole event (~6 µs here); a user's events repeat, so most look-ups hit. Cleared when full:
#: at most ~25 MB.
MEMO_IDS: Final = 100_000

Pseudonym = Callable[[str], str]


def hmac_pseudonym(key: bytes, person_id: str) -> str:
    """The pseudonym of one id (the formula above), without memo."""
    digest = hmac.digest(key, person_id.encode("utf-8", "surrogatepass"), "sha256")
    return digest.hex()[:PSEUDONYM_HEX_DIGITS]


@lru_cache(maxsize=4)
def pseudonymizer(key: bytes | None) -> Pseudonym | None:
    """The pseudonym function of a key (one per key and process, memoised), or None without a key:
    callers then leave ids as they are."""
    if not key:
        return None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the pseudonymisation key must have at least {MIN_KEY_BYTES} bytes")
    memo: dict[str, str] = {}
    digest = hmac.digest

    def pseudonym(person_id: str) -> str:
        found = memo.get(person_id)
        if found is None:
            if len(memo) >= MEMO_IDS:
                memo.clear()
            found = memo[person_id] = digest(key, person_id.encode("utf-8", "surrogatepass"), "sha256").hex()[
                :PSEUDONYM_HEX_DIGITS
            ]
        return found

    return pseudonym
