"""A deterministic event set for the tests: valid events of every kind, with duplicates,
reordering within the lateness, late events, boundary instants and malformed lines.

It knows nothing of the code under test: it writes JSON lines as a producer would.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

MSK = ZoneInfo("Europe/Moscow")
DAY_MS = 86_400_000
#: Monday 2026-09-07 00:00 MSK: weeks of the generated data start here.
T0_MS = int(datetime(2026, 9, 7, tzinfo=MSK).timestamp() * 1000)


@dataclass(frozen=True)
class GenConfig:
    events: int = 100_000
    weeks: int = 6
    teachers: int = 1500
    seed: int = 20261128
    duplicate_share: float = 0.04
    malformed_share: float = 0.015
    late_share: float = 0.004
    #: With several input topics Kafka orders a user's events only within one topic. In this mode
    #: the data is such that no cross-topic interleaving can change a lateness decision: all events
    #: but the late ones fall in two weeks, and each late event is a message that follows, in the
    #: same topic, a message of that user in the second week.
    order_robust: bool = False
    #: Staff accounts of municipalities (``user_id`` = ``mun…``, role ``staff``, most of them
    #: registered, some after their activity) are active too, as the seed defines an active
    #: municipality; off by default, which keeps the other data sets.
    municipality_accounts: bool = False


def _line(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class _Gen:
    def __init__(self, cfg: GenConfig) -> None:
        self.cfg = cfg
        self.rnd = random.Random(cfg.seed)
        self.seq = 0
        weeks = 2 if cfg.order_robust else cfg.weeks
        self.span_ms = weeks * 7 * DAY_MS
        self.teachers = [f"t{i:05d}" for i in range(cfg.teachers)]
        self.others = [(f"s{i:05d}", "student") for i in range(cfg.teachers // 2)]
        self.others += [(f"p{i:05d}", "parent") for i in range(cfg.teachers // 5)]
        self.others += [(f"st{i:04d}", "staff") for i in range(cfg.teachers // 30)]

    def event_id(self) -> str:
        self.seq += 1
        return f"ev-{self.cfg.seed}-{self.seq:08d}"

    def ts(self) -> int:
        # school days carry more traffic than weekends; lessons hours more than nights
        while True:
            t = T0_MS + self.rnd.randrange(self.span_ms)
            local = datetime.fromtimestamp(t / 1000, MSK)
            weight = (1.0 if local.weekday() < 5 else 0.3) * (1.0 if 8 <= local.hour < 21 else 0.2)
            if self.rnd.random() < weight:
                return t

    def activity(self, user: str, role: str, ts: int, etype: str | None = None) -> dict[str, object]:
        r = self.rnd.random()
        etype = etype or ("message_sent" if r < 0.78 else "call" if r < 0.9 else "chat_created")
        kind = self.rnd.choices(["group", "personal", "channel"], weights=[6, 3, 1])[0]
        obj: dict[str, object] = {
            "schema_version": 1,
            "type": etype,
            "event_id": self.event_id(),
            "ts": ts,
            "user_id": user,
            "role": role,
        }
        if etype == "call":
            obj |= {"call_id": f"call-{self.seq}", "chat_kind": kind}
        else:
            obj |= {"chat_id": f"chat-{self.rnd.randrange(5000)}", "chat_kind": kind}
        if self.rnd.random() < 0.05:
            obj["client"] = {"os": "android", "v": "7.1"}  # unknown extra fields are ignored
        return obj

    def registration(self, user: str, role: str, ts: int) -> dict[str, object]:
        by = "parent" if role == "student" and self.rnd.random() < 0.6 else "self"
        return {
            "schema_version": 1,
            "type": "registered",
            "event_id": self.event_id(),
            "ts": ts,
            "user_id": user,
            "role": role,
            "registered_by": by,
        }


MALFORMED_KINDS = (
    "bad_json",
    "not_object",
    "missing_field",
    "bad_value",
    "unknown_type",
    "unknown_role",
    "unknown_chat_kind",
    "unsupported_version",
    "future",
)


def _malformed(g: _Gen, kind: str) -> bytes:
    base = g.activity(g.rnd.choice(g.teachers), "teacher", g.ts(), "message_sent")
    if kind == "bad_json":
        return g.rnd.choice([b"{not json", b'{"schema_version":1,"type":"call"', b"\xff\xfe{}", b"NaN", b'{"a":NaN}'])
    if kind == "not_object":
        return g.rnd.choice([b"[1,2,3]", b'"message_sent"', b"42", b"null"])
    if kind == "missing_field":
        del base[g.rnd.choice(["event_id", "ts", "user_id", "role", "chat_kind", "chat_id", "type"])]
    elif kind == "bad_value":
        field, value = g.rnd.choice(
            [("ts", "1757000000000"), ("ts", 1.5), ("user_id", 17), ("event_id", ""), ("ts", True)]
        )
        base[field] = value
    elif kind == "unknown_type":
        base["type"] = "reaction_added"
    elif kind == "unknown_role":
        base["role"] = g.rnd.choice(["admin", "school", "Teacher"])
    elif kind == "unknown_chat_kind":
        base["chat_kind"] = "broadcast"
    elif kind == "unsupported_version":
        base["schema_version"] = 2
    elif kind == "future":
        base["ts"] = 4_102_444_800_000  # 2100-01-01
    return _line(base)


def generate(cfg: GenConfig) -> list[bytes]:
    """The lines, in the order they are produced (and replayed)."""
    g = _Gen(cfg)
    rnd = g.rnd
    timed: list[tuple[int, bytes]] = []
    # registrations: most teachers (some after their activity began, some twice), schools, students
    for teacher in g.teachers:
        if rnd.random() < 0.75:
            timed.append((ts := g.ts(), _line(g.registration(teacher, "teacher", ts))))
            if rnd.random() < 0.05:  # registered again later: the earliest counts
                later = min(ts + rnd.randrange(DAY_MS, 3 * DAY_MS), T0_MS + g.span_ms - 1)
                timed.append((later, _line(g.registration(teacher, "teacher", later))))
    for user, role in g.others:
        if role == "student" and rnd.random() < 0.5:
            timed.append((ts := g.ts(), _line(g.registration(user, role, ts))))
    for i in range(cfg.teachers // 15):
        timed.append((ts := g.ts(), _line(g.registration(f"sch{i:04d}", "school", ts))))
    for i in range(cfg.teachers // 150 + 1):
        timed.append((ts := g.ts(), _line(g.registration(f"mun{i:03d}", "municipality", ts))))

    # municipalities' staff accounts: every other one creates a chat and writes 2-5 messages, of
    # random kinds: some of them reach a group chat and 3 group messages (active), some do not;
    # three in four register as staff, at any time (before or after that activity)
    if cfg.municipality_accounts:
        for i in range(0, cfg.teachers // 150 + 1, 2):
            account = f"mun{i:03d}"
            if rnd.random() < 0.75:
                timed.append((ts := g.ts(), _line(g.registration(account, "staff", ts))))
            timed.append((ts := g.ts(), _line(g.activity(account, "staff", ts, "chat_created"))))
            for _ in range(rnd.randrange(2, 6)):
                timed.append((ts := g.ts(), _line(g.activity(account, "staff", ts, "message_sent"))))

    # boundary instants: Monday 00:00:00.000 MSK starts a new week, 1 ms earlier is the old one
    for k, teacher in enumerate(g.teachers[:40]):
        monday = T0_MS + 7 * DAY_MS
        ts = monday if k % 2 == 0 else monday - 1
        timed.append((ts, _line(g.activity(teacher, "teacher", ts, "message_sent"))))

    n_valid = cfg.events - len(timed)
    n_valid = int(n_valid / (1 + cfg.duplicate_share + cfg.malformed_share + cfg.late_share))
    heavy = g.teachers[: len(g.teachers) // 5]  # a fifth of the teachers write most
    for _ in range(n_valid):
        r = rnd.random()
        if r < 0.85:
            user = rnd.choice(heavy) if rnd.random() < 0.6 else rnd.choice(g.teachers)
            role = "teacher"
        else:
            user, role = rnd.choice(g.others)
        ts = g.ts()
        timed.append((ts, _line(g.activity(user, role, ts))))

    timed.sort(key=lambda item: item[0])
    lines = [line for _, line in timed]
    # reorder within the lateness: swap neighbours a few hundred lines apart (hours of traffic)
    for _ in range(len(lines) // 10):
        i = rnd.randrange(len(lines))
        j = min(len(lines) - 1, i + rnd.randrange(1, 300))
        lines[i], lines[j] = lines[j], lines[i]

    out = list(lines)
    # late events: three weeks older than the user's newest event, inserted after it
    n_late = int(len(lines) * cfg.late_share)
    tail_start = len(out) * 3 // 4  # the last quarter: every heavy teacher is well into the data
    for _ in range(n_late):
        teacher = rnd.choice(heavy)
        old = T0_MS + rnd.randrange(7 * DAY_MS) - (2 * 7 * DAY_MS if cfg.order_robust else 0)
        pos = rnd.randrange(tail_start, len(out))
        if cfg.order_robust:
            # a message in week 2 first, in the same topic, so the late one follows it in any order
            week2 = T0_MS + 7 * DAY_MS + rnd.randrange(DAY_MS)
            out.insert(pos, _line(g.activity(teacher, "teacher", week2, "message_sent")))
            out.insert(pos + 1, _line(g.activity(teacher, "teacher", old, "message_sent")))
        else:
            old = T0_MS + rnd.randrange(7 * DAY_MS)  # week 1, while the stream is in the last weeks
            out.insert(pos, _line(g.activity(teacher, "teacher", old)))
    # exact duplicates, delivered again a little later
    for _ in range(int(len(lines) * cfg.duplicate_share)):
        i = rnd.randrange(len(out))
        out.insert(min(len(out), i + rnd.randrange(1, 2000)), out[i])
    # malformed lines of every kind
    for k in range(int(len(lines) * cfg.malformed_share)):
        out.insert(rnd.randrange(len(out)), _malformed(g, MALFORMED_KINDS[k % len(MALFORMED_KINDS)]))
    return out


def week_of(ts_ms: int) -> datetime:
    """Monday 00:00 MSK of the week holding ts (an independent implementation, for oracles)."""
    local = datetime.fromtimestamp(ts_ms / 1000, MSK)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday
