"""An event set with one account far beyond any person's rate: one teacher with ``hot`` distinct
``message_sent`` events in one week (in time order), a share of them delivered twice (the copy a
few hundred lines later), and ordinary teachers alongside. Or, with ``spread=True``, the same
number of events spread over many teachers: the comparison a hot account is timed against.

It knows nothing of the code under test: it writes JSON lines as a producer would.
"""

from __future__ import annotations

import json
import random
from datetime import datetime

from tests.support.eventgen import MSK

#: Monday 2026-10-05 00:00 MSK: the hot week.
WEEK0_MS = int(datetime(2026, 10, 5, tzinfo=MSK).timestamp() * 1000)
WEEK_MS = 7 * 86_400_000
HOT_USER = "t-hot"


def _line(user: str, seq: int, ts: int, kind: str) -> bytes:
    return json.dumps(
        {
            "schema_version": 1,
            "type": "message_sent",
            "event_id": f"{user}-{seq}",
            "ts": ts,
            "user_id": user,
            "role": "teacher",
            "chat_id": f"chat-{seq % 97}",
            "chat_kind": kind,
        },
        separators=(",", ":"),
    ).encode()


def hot_key_lines(*, hot: int = 200_000, others: int = 200, per_other: int = 10, duplicates: float = 0.03,
                  seed: int = 1, spread: bool = False) -> list[bytes]:  # fmt: skip
    """The lines, in the order they are produced. ``spread``: the hot account's events are spread
    over ``hot // 100`` teachers instead (same total, same duplicates)."""
    rnd = random.Random(seed)
    accounts = [f"t-spread-{i:05d}" for i in range(hot // 100)] if spread else [HOT_USER]
    lines: list[bytes] = []
    for seq in range(hot):
        ts = WEEK0_MS + seq * (WEEK_MS - 60_000) // hot  # in time order, inside the week
        lines.append(_line(accounts[seq % len(accounts)], seq, ts, rnd.choice(["group", "group", "personal"])))
    ordinary = [
        _line(f"t-{u:04d}", n, WEEK0_MS + rnd.randrange(WEEK_MS - 60_000), "group")
        for u in range(others)
        for n in range(per_other)
    ]
    for line in ordinary:  # ordinary teachers' events interleaved at random places
        lines.insert(rnd.randrange(len(lines) + 1), line)
    for _ in range(int(hot * duplicates)):  # a delivery again, a few hundred lines later
        i = rnd.randrange(len(lines))
        lines.insert(min(len(lines), i + rnd.randrange(1, 500)), lines[i])
    return lines
