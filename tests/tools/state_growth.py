"""Bounded state over a long run (issue "Reliability", item 6), for the counting core::

    python -m tests.tools.state_growth --weeks 16 --users 20000 [--events-per-week 12]

The worker's own ``BatchProcessor`` runs over ``--weeks`` weeks of generated stream time with
its state in a dict, in batches of 2,000 events; the state's size is that of the records the
worker would store (``stream.state.codec``).
Each user is active in a week with probability 0.8 and then sends 1 to 2 × ``--events-per-week``
events of that week; events come in time order, some swapped by up to hours, with 0.5 % late
events (three weeks old) and 2 % duplicates.

After each week of stream time it prints: users with state, live (user, week) entries, the most
weeks one user holds, the encoded state's bytes, the event ids held, and the process's RSS. A
week is dropped once it ended at least the allowed lateness (7 days) before the user's stream
time: so a user holds the week in progress and the previous one (still open for late events).

One property is not visible here because every user acts every few weeks: a user's weeks are
dropped when that user's next event comes (stream time is per user), so a user who stops
sending keeps their last open weeks (at most 2, with their event ids) until they send again.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from stream.core.batch import BatchProcessor, DictState, Record
from stream.settings import Settings
from stream.state.codec import encode_user

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
#: Monday 2026-01-05 00:00 MSK
T0_MS = int(datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Moscow")).timestamp() * 1000)
BATCH = 2000


@dataclass(frozen=True)
class WeekSample:
    week: int  # weeks of stream time done
    events: int  # events processed so far
    users: int
    live_weeks: int  # (user, week) entries
    max_weeks_per_user: int
    state_bytes: int
    ids: int
    rss_mb: float


def _line(rnd: random.Random, seq: int, user: str, ts: int) -> bytes:
    kind = rnd.choice(["group", "group", "personal", "channel"])
    etype = rnd.choices(["message_sent", "call", "chat_created"], [8, 1, 1])[0]
    obj: dict[str, object] = {
        "schema_version": 1,
        "type": etype,
        "event_id": f"e{seq}",
        "ts": ts,
        "user_id": user,
        "role": "teacher",
        "chat_kind": kind,
    }
    obj["call_id" if etype == "call" else "chat_id"] = f"c{seq}"
    return json.dumps(obj, separators=(",", ":")).encode()


def week_events(rnd: random.Random, week: int, users: int, per_week: int, seq: int) -> list[tuple[bytes, bytes]]:
    """(key, line) of one week, in stream order."""
    start = T0_MS + week * WEEK_MS
    timed: list[tuple[int, bytes, bytes]] = []
    for u in range(users):
        if rnd.random() >= 0.8:
            continue
        user = f"t{u:06d}"
        for _ in range(rnd.randint(1, 2 * per_week)):
            seq += 1
            ts = start + rnd.randrange(WEEK_MS)
            timed.append((ts, user.encode(), _line(rnd, seq, user, ts)))
            if rnd.random() < 0.005 and week >= 3:  # a phone that was offline for three weeks
                seq += 1
                old = ts - 3 * WEEK_MS
                timed.append((ts + 1, user.encode(), _line(rnd, seq, user, old)))
    timed.sort(key=lambda item: item[0])
    out = [(key, line) for _, key, line in timed]
    for _ in range(len(out) // 20):  # reordering within hours
        i = rnd.randrange(len(out))
        j = min(len(out) - 1, i + rnd.randrange(1, 200))
        out[i], out[j] = out[j], out[i]
    for _ in range(len(out) // 50):  # duplicates
        i = rnd.randrange(len(out))
        out.insert(min(len(out), i + rnd.randrange(1, 500)), out[i])
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / (1 << 20)


def sample(week: int, events: int, state: DictState) -> WeekSample:
    live = most = ids = size = 0
    for user, decoded in state.data.items():
        live += len(decoded.weeks)
        most = max(most, len(decoded.weeks))
        ids += sum(len(w.ids) for w in decoded.weeks.values())
        size += sum(len(key) + len(value or b"") for key, value in encode_user(user, decoded, {})[0])
    return WeekSample(week, events, len(state.data), live, most, size, ids, rss_mb())


def simulate(weeks: int, users: int, per_week: int, seed: int = 1, *, lateness_days: int = 7) -> Iterator[WeekSample]:
    """Yields a sample after each week of stream time."""
    rnd = random.Random(seed)
    end_ms = T0_MS + weeks * WEEK_MS
    settings = Settings(allowed_lateness_s=lateness_days * 86_400)
    processor = BatchProcessor(settings, check_key=True, clock=lambda: end_ms / 1000 + 3600)
    state = DictState()
    seq = events = 0
    for week in range(weeks):
        lines = week_events(rnd, week, users, per_week, seq)
        seq += len(lines)
        for i in range(0, len(lines), BATCH):
            processor.process([Record(line, key, None) for key, line in lines[i : i + BATCH]], state)
            processor.take_pending()  # written to the store
        events += len(lines)
        yield sample(week + 1, events, state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.tools.state_growth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=16)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--events-per-week", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(
        f"{'week':>4} {'events':>10} {'users':>7} {'user-weeks':>10} {'max/user':>8} {'state MB':>9} "
        f"{'ids':>9} {'RSS MB':>7}"
    )
    samples = []
    for s in simulate(args.weeks, args.users, args.events_per_week, args.seed):
        samples.append(s)
        print(
            f"{s.week:>4} {s.events:>10,} {s.users:>7,} {s.live_weeks:>10,} {s.max_weeks_per_user:>8} "
            f"{s.state_bytes / (1 << 20):>9.2f} {s.ids:>9,} {s.rss_mb:>7.1f}",
            flush=True,
        )
    if len(samples) >= 12:
        ratio = samples[11].state_bytes / samples[3].state_bytes
        most = max(s.max_weeks_per_user for s in samples)
        print(f"state bytes week 12 / week 4: {ratio:.2f}; most weeks held by one user: {most}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
