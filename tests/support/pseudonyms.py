"""The documented pseudonym of a person id, computed here with hmac and hashlib alone (nothing
under test is imported): ``hex(HMAC-SHA256(key, UTF-8 bytes of id))[:32]`` (docs/security.md);
the oracle's rows with every person id replaced by it; and a scanner for raw ids in any bytes."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from tests.support.oracle import Expected

PERSON_ROLES = frozenset({"teacher", "student", "parent", "staff"})


def pseudonym(key: bytes, person_id: str) -> str:
    return hmac.new(key, person_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def pseudonymised(truth: Expected, key: bytes) -> Expected:
    """The oracle's tables as the store holds them under ``key``: every teacher and staff id of
    the week tables, and the user id of every person's registration, replaced by its pseudonym."""
    return Expected(
        teacher_week={(week, pseudonym(key, who)): row for (week, who), row in truth.teacher_week.items()},
        staff_week={(week, pseudonym(key, who)): row for (week, who), row in truth.staff_week.items()},
        registrations={
            (role, pseudonym(key, user) if role in PERSON_ROLES else user, by, ts, event_id)
            for role, user, by, ts, event_id in truth.registrations
        },
        consumed=truth.consumed,
        counted=truth.counted,
        ignored=truth.ignored,
        duplicates=truth.duplicates,
        rejected=truth.rejected,
        rejected_lines=truth.rejected_lines,
    )


def raw_ids_in(data: bytes, ids: Iterable[str]) -> set[str]:
    """Which of the ids occur anywhere in the bytes (glued to other characters too, as in a
    state key ``b"u" + id``), except inside a longer run of digits (``t00012`` is not found in
    ``t000123``). The test data's person ids start with a letter that no hex digit is, so a
    pseudonym never contains one."""
    wanted = sorted({i.encode() for i in ids})
    if not wanted:
        return set()
    pattern = re.compile(rb"(?<![0-9])(" + _trie(wanted) + rb")(?![0-9])")
    return {found.decode() for found in pattern.findall(data)}


def _trie(words: list[bytes]) -> bytes:
    """A regular expression matching exactly the words, as a trie (one alternation per branch):
    fast where an alternation of thousands of words would try each at every position."""
    root: dict[int, dict] = {}
    for word in words:
        node = root
        for byte in word:
            node = node.setdefault(byte, {})
        node[-1] = {}

    def walk(node: dict[int, dict]) -> bytes:
        branches = [re.escape(bytes([b])) + walk(child) for b, child in sorted(node.items()) if b != -1]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        return b"(?:" + body + b")?" if -1 in node else body  # a word may end here, longer ones go on

    return walk(root)
