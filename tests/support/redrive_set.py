"""An event set for the dead-letter tools: the generated events of every kind (no late ones of
the generator's), lines over the size limit, and a block of late events built so that sending
the late ones back after the lateness is raised gives what a replay with that lateness gives.

Why the late events are built, not drawn: a redriven late event is decided against its user's
stream time at the end of the topic, and it can only count in a week the worker no longer
holds, that is, one without counted activity of that user (see ``oracle.redrive_departures``).
Each user of the block (``tl…`` teachers, ``stl…`` staff) writes a few messages in week 6 first,
then, after them, its late events: in weeks 3 and 4 (counted once the lateness is 28 days), in
week 1 (late even then), some twice (a duplicate), and for some teachers a registration in week 2
(never late: the first run counts it). None of them has other events. Knows nothing of the code under test.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

from tests.support.eventgen import DAY_MS, T0_MS, GenConfig, generate
from tests.support.oracle import expected

#: The lateness of the first run (the default) and the raised one.
FIRST_LATENESS = timedelta(days=7)
RAISED_LATENESS = timedelta(days=28)
#: SFERUM_MAX_EVENT_BYTES of every run on this set: the long lines are over it.
MAX_EVENT_BYTES = 2048
HOUR_MS = 3_600_000


def _line(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _day_ts(rnd: random.Random, day: int) -> int:
    """A time on day ``day`` after T0 (a Monday), between 08:00 and 20:00 Moscow time."""
    return T0_MS + day * DAY_MS + 8 * HOUR_MS + rnd.randrange(12 * HOUR_MS)


def late_block(*, teachers: int = 40, staff: int = 6, seed: int = 18) -> list[bytes]:
    rnd = random.Random(seed)
    serial = 0

    def event(user: str, role: str, ts: int, etype: str = "message_sent") -> bytes:
        nonlocal serial
        serial += 1
        obj: dict[str, object] = {
            "schema_version": 1,
            "type": etype,
            "event_id": f"late-{seed}-{serial:06d}",
            "ts": ts,
            "user_id": user,
            "role": role,
        }
        if etype == "registered":
            obj["registered_by"] = "self"
        elif etype == "call":
            obj |= {"call_id": f"lcall-{serial}", "chat_kind": rnd.choice(["group", "personal"])}
        else:
            obj |= {"chat_id": f"lchat-{rnd.randrange(50)}", "chat_kind": rnd.choice(["group", "group", "personal"])}
        return _line(obj)

    users = [(f"tl{i:04d}", "teacher") for i in range(teachers)] + [(f"stl{i:03d}", "staff") for i in range(staff)]
    current: list[bytes] = []
    late: list[bytes] = []
    for user, role in users:
        for _ in range(rnd.randrange(2, 5)):  # week 6 (days 35-41): the user's stream time
            current.append(event(user, role, _day_ts(rnd, 35 + rnd.randrange(5))))
        mine = []
        for _ in range(rnd.randrange(2, 5)):  # weeks 3 and 4: late now, counted with 28 days
            kind = rnd.choice(["message_sent", "message_sent", "chat_created", "call"])
            mine.append(event(user, role, _day_ts(rnd, 14 + rnd.randrange(14)), kind))
        for _ in range(rnd.randrange(1, 3)):  # week 1: late even with 28 days
            mine.append(event(user, role, _day_ts(rnd, rnd.randrange(7))))
        if role == "teacher" and rnd.random() < 0.3:
            mine.append(event(user, role, _day_ts(rnd, 7 + rnd.randrange(7)), "registered"))
        if rnd.random() < 0.4:
            # the same late event twice; not a registration: one is never late, so the first run
            # counts both copies (it keeps no id of a registration in a closed week) where a
            # replay with 28 days counts one and finds the other a duplicate
            mine.append(rnd.choice([line for line in mine if b'"type":"registered"' not in line]))
        late.extend(mine)
    rnd.shuffle(late)
    return current + late


def oversized(count: int = 3) -> list[bytes]:
    """Valid events but for their size: an unknown field makes them longer than MAX_EVENT_BYTES."""
    return [
        _line(
            {
                "schema_version": 1,
                "type": "message_sent",
                "event_id": f"big-{i}",
                "ts": T0_MS + 36 * DAY_MS,
                "user_id": f"t{i:05d}",
                "role": "teacher",
                "chat_id": "chat-1",
                "chat_kind": "group",
                "attachment": "x" * (MAX_EVENT_BYTES + 500),
            }
        )
        for i in range(count)
    ]


def redrive_set(events: int = 12_000, teachers: int = 600, seed: int = 20261203) -> list[bytes]:
    """The generated events (malformed lines of every kind the generator makes, duplicates,
    reordering), then the long lines, then the late block. The few generated events that the
    reordering makes late are left out: dropping a late line changes no other decision (it
    moves no stream time and is no event applied)."""
    base = generate(GenConfig(events=events, weeks=6, teachers=teachers, seed=seed, late_share=0.0))
    late = expected(base, now_ms=T0_MS + 365 * DAY_MS, lateness=FIRST_LATENESS).late_lines
    return [line for i, line in enumerate(base) if i not in late] + oversized() + late_block()
