"""Fuzz ``schemas.decode.decode`` with hostile input for a while (issue "Reliability", item 5)::

    python -m tests.tools.fuzz_decode --seconds 60 [--seed N] [--max-rss-growth-mb 64]

Inputs come from ``tests/support/hostile.py``: random bytes, mutated valid events, lines of up to
10 MB, nesting up to 1,000,000 levels, wrong types, NaN/Infinity and huge numbers, lone
surrogates and other unicode, as bytes and as str, with random Kafka keys. Every input is
decoded with the default 64 KiB limit and, for a third of them, with a 32 MiB limit so that the
parser itself meets the megabyte lines and the deep nesting.

Checked for every input: ``decode`` does not raise; it returns an ``Event`` whose fields keep
the contract, or a ``Rejection`` whose reason is in ``schemas.decode.REASONS`` (never ``late``,
which is the stream's decision) with a short detail. Checked over the run: the process's
resident memory after the warm-up grows by less than ``--max-rss-growth-mb``, and a
tracemalloc pass over a fixed set of the inputs, decoded twice, retains (almost) nothing.

Prints one summary and exits 0, or prints each failing input's category and repr and exits 1.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from schemas.decode import (
    CHAT_KINDS,
    EVENT_TYPES,
    MAX_ID_CHARS,
    ORG_ROLES,
    PERSON_ROLES,
    REASONS,
    REGISTERED_BY,
    Event,
    Rejection,
    decode,
)
from tests.support.hostile import GENERATORS, Raw

NOW_MS = 1_800_000_000_000  # 2027-01-15: the generated valid events are in the past
BIG_LIMIT = 32 << 20
MAX_DETAIL_CHARS = 200


def problem(raw: Raw, result: object, key: bytes | None, check_key: bool, max_bytes: int) -> str | None:
    """What is wrong with ``decode``'s answer, or None."""
    if len(raw) > max_bytes and not (isinstance(result, Rejection) and result.reason == "too_large"):
        return f"{len(raw)} over the {max_bytes} limit, not too_large"
    if isinstance(result, Rejection):
        if result.reason not in REASONS or result.reason == "late":
            return f"unknown reason {result.reason!r}"
        if not isinstance(result.detail, str) or not result.detail or len(result.detail) > MAX_DETAIL_CHARS:
            return f"bad detail {result.detail!r:.300}"
        return None
    if not isinstance(result, Event):
        return f"neither an Event nor a Rejection: {type(result).__name__}"
    e = result
    for name in ("event_id", "user_id"):
        value = getattr(e, name)
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS:
            return f"event with a bad {name}"
    if e.type not in EVENT_TYPES or type(e.ts) is not int or not 0 <= e.ts <= NOW_MS + 300_000:
        return "event with a bad type or ts"
    roles = PERSON_ROLES | ORG_ROLES if e.type == "registered" else PERSON_ROLES
    if e.role not in roles:
        return "event with a bad role"
    if e.type == "registered" and e.registered_by not in REGISTERED_BY:
        return "registration with a bad registered_by"
    if e.type != "registered" and e.chat_kind not in CHAT_KINDS:
        return "activity with a bad chat_kind"
    try:
        e.user_id.encode()
    except UnicodeEncodeError:
        return "event whose user_id cannot be encoded (a lone surrogate got through)"
    if check_key and key != e.user_id.encode():
        return "event accepted with a key that is not its user_id"
    return None


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


@dataclass
class Stats:
    inputs: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    rss_after_warmup: int = 0
    rss_peak: int = 0
    rss_end: int = 0
    retained_bytes: int = 0


def decode_one(raw: Raw, rnd: random.Random, stats: Stats, category: str) -> None:
    key = rnd.choice([None, b"", b"u-1", rnd.randbytes(4)])
    check_key = rnd.random() < 0.3
    limits = [64 << 10] + ([BIG_LIMIT] if rnd.random() < 1 / 3 else [])
    for max_bytes in limits:
        try:
            result = decode(raw, now_ms=NOW_MS, max_bytes=max_bytes, key=key, check_key=check_key)
        except BaseException as exc:  # the finding: decode must never raise
            stats.failures.append(f"{category}: raised {exc!r:.200} on {raw[:200]!r} (len {len(raw)})")
            continue
        what = problem(raw, result, key, check_key, max_bytes)
        if what is not None:
            stats.failures.append(f"{category}: {what} on {raw[:200]!r} (len {len(raw)})")
        stats.reasons[result.reason if isinstance(result, Rejection) else "event"] += 1
    stats.inputs[category] += 1


def leak_check(seed: int) -> int:
    """Bytes still allocated after decoding a fixed set of inputs a second time (the first pass
    warms caches): a leak per call would show here."""
    rnd = random.Random(seed)
    corpus = [GENERATORS[name](rnd) for name in GENERATORS for _ in range(30) if name != "huge"]
    for raw in corpus:
        decode(raw, now_ms=NOW_MS, max_bytes=BIG_LIMIT)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(3):
        for raw in corpus:
            decode(raw, now_ms=NOW_MS, max_bytes=BIG_LIMIT)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before


def fuzz(seconds: float, seed: int) -> Stats:
    rnd = random.Random(seed)
    stats = Stats()
    names = list(GENERATORS)
    # "huge" costs tens of ms per input: drawn less often so the others get millions of tries
    weights = [0.02 if name == "huge" else 1.0 for name in names]
    started = time.monotonic()
    warmup = started + min(5.0, seconds / 6)
    while (now := time.monotonic()) - started < seconds:
        category = rnd.choices(names, weights)[0]
        decode_one(GENERATORS[category](rnd), rnd, stats, category)
        if sum(stats.inputs.values()) % 256 == 0:
            rss = rss_bytes()
            stats.rss_peak = max(stats.rss_peak, rss)
            if not stats.rss_after_warmup and now >= warmup:
                gc.collect()
                stats.rss_after_warmup = rss_bytes()
    gc.collect()
    stats.rss_end = rss_bytes()
    stats.rss_after_warmup = stats.rss_after_warmup or stats.rss_end
    stats.retained_bytes = leak_check(seed)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.tools.fuzz_decode", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--max-rss-growth-mb", type=float, default=64.0)
    parser.add_argument("--max-retained-kb", type=float, default=256.0)
    parser.add_argument("--failures", type=Path, default=None, help="write failing inputs' reprs here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    stats = fuzz(args.seconds, args.seed)
    elapsed = time.monotonic() - started
    growth = stats.rss_end - stats.rss_after_warmup
    total = sum(stats.inputs.values())
    print(f"seed {args.seed}: {total} inputs in {elapsed:.0f} s ({total / elapsed:.0f}/s)")
    print("inputs by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(stats.inputs.items())))
    print("results: " + ", ".join(f"{k} {n}" for k, n in stats.reasons.most_common()))
    mb = 1 << 20
    print(
        f"RSS: {stats.rss_after_warmup / mb:.1f} MB after warm-up, peak {stats.rss_peak / mb:.1f} MB, "
        f"end {stats.rss_end / mb:.1f} MB (growth {growth / mb:+.1f} MB, bound {args.max_rss_growth_mb:.0f} MB)"
    )
    print(f"tracemalloc: {stats.retained_bytes} bytes retained by 3 more passes over the fixed inputs")
    failed = list(stats.failures)
    if growth > args.max_rss_growth_mb * mb:
        failed.append(f"RSS grew by {growth / mb:.1f} MB")
    if stats.retained_bytes > args.max_retained_kb * 1024:
        failed.append(f"{stats.retained_bytes} bytes retained: a leak")
    for line in failed[:50]:
        print("FAIL " + line)
    if args.failures is not None and failed:
        args.failures.write_text("\n".join(failed) + "\n")
    print(f"failures: {len(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
