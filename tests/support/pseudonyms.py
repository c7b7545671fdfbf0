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
#: An id of the test data is a run of these characters; a pseudonym is 32 hex digits.
_TOKEN = re.compile(rb"[A-Za-z0-9_-]+")


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
    """Which of the ids occur in the bytes as a whole token (so ``t00012`` is not found in
    ``t000123``, and never in a pseudonym, which has only hex digits)."""
    wanted = {i.encode() for i in ids}
    return {token.decode() for token in _TOKEN.findall(data) if token in wanted}
