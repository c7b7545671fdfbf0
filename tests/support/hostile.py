"""Hostile Kafka message bodies for the decoder's fuzzing (``python -m tests.tools.fuzz_decode``).

Each generator takes a ``random.Random`` and returns one input: ``bytes`` as Kafka delivers
them, or sometimes ``str`` (``decode`` accepts both). Nothing here imports the code under test.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

Raw = bytes | str

FIELDS = ("schema_version", "type", "event_id", "ts", "user_id", "role", "chat_id", "chat_kind", "call_id")
TS = 1_790_000_000_000  # 2026-09-21, in the past of any run of the fuzzer


def valid_event(rnd: random.Random) -> dict[str, object]:
    etype = rnd.choice(["chat_created", "message_sent", "call", "registered"])
    obj: dict[str, object] = {
        "schema_version": 1,
        "type": etype,
        "event_id": f"e-{rnd.randrange(10**9)}",
        "ts": TS + rnd.randrange(10**9),
        "user_id": f"u-{rnd.randrange(10**6)}",
        "role": rnd.choice(["teacher", "student", "parent", "staff"]),
    }
    if etype == "call":
        obj |= {"call_id": "k-1", "chat_kind": rnd.choice(["group", "personal", "channel"])}
    elif etype == "registered":
        obj |= {"registered_by": rnd.choice(["self", "parent"])}
    else:
        obj |= {"chat_id": "c-1", "chat_kind": rnd.choice(["group", "personal", "channel"])}
    return obj


def _dump(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


def random_bytes(rnd: random.Random) -> Raw:
    return rnd.randbytes(rnd.choice([0, 1, 2, 7, 64, 600, 4096, 70_000]))


def mutated(rnd: random.Random) -> Raw:
    """A valid event with a few byte flips, insertions, deletions, a truncation or a splice."""
    raw = bytearray(_dump(valid_event(rnd)))
    for _ in range(rnd.randrange(1, 6)):
        op = rnd.randrange(5)
        i = rnd.randrange(len(raw) + 1)
        if op == 0 and raw:
            raw[min(i, len(raw) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:
            raw[i:i] = rnd.choice([b"\x00", b"\xff", b'"', b"\\", b"{", b"]", b",", b":", b"\xed\xa0\x80"])
        elif op == 2:
            del raw[i : i + rnd.randrange(1, 8)]
        elif op == 3:
            del raw[i:]
        else:
            raw[i:i] = _dump(valid_event(rnd))[: rnd.randrange(40)]
    return bytes(raw)


def huge(rnd: random.Random) -> Raw:
    """Megabytes: a valid event padded by an unknown field, long ids, long garbage, many keys."""
    size = rnd.choice([65_536, 65_537, 1 << 20, 10 << 20])
    kind = rnd.randrange(4)
    if kind == 0:
        obj = valid_event(rnd)
        obj["pad"] = ""
        base = len(_dump(obj))
        obj["pad"] = "x" * max(0, size - base)
        return _dump(obj)
    if kind == 1:
        obj = valid_event(rnd)
        obj[rnd.choice(["user_id", "event_id", "chat_id"])] = "я" * (size // 2)
        return _dump(obj)
    if kind == 2:
        return b'{"a":"' + b"\xff" * size
    return _dump({f"k{i}": i for i in range(size // 12)} | valid_event(rnd))


def nested(rnd: random.Random) -> Raw:
    """Deep nesting: lists, objects, mixed; closed or not; alone or inside a valid event."""
    depth = rnd.choice([10, 1000, 1023, 1024, 1025, 1026, 5000, 100_000, 1_000_000])
    opener, closer = rnd.choice([(b"[", b"]"), (b'{"a":', b"}"), (b'[{"a":', b"}]")])
    inner = opener * depth + b"1" + (closer * depth if rnd.random() < 0.8 else b"")
    if rnd.random() < 0.5:
        return inner
    event = _dump(valid_event(rnd))
    return event[:-1] + b',"extra":' + inner + b"}"


def wrong_types(rnd: random.Random) -> Raw:
    obj = valid_event(rnd)
    value = rnd.choice(
        [None, True, False, 0, -1, 1.0, 1.5, 10**30, -(10**30), "", "x" * 300, [], [1], {}, {"a": 1}, "1"]
    )
    obj[rnd.choice([*FIELDS, "registered_by"])] = value
    return _dump(obj)


def non_finite(rnd: random.Random) -> Raw:
    word = rnd.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1" * 400, b"-0", b"1e-999"])
    if rnd.random() < 0.2:
        return word
    obj = valid_event(rnd)
    obj[rnd.choice([*FIELDS, "extra"])] = "@@"
    return _dump(obj).replace(b'"@@"', word)


UNICODE_PIECES: tuple[bytes, ...] = (
    b"\\ud800",  # lone high surrogate, escaped
    b"\\udfff",  # lone low surrogate, escaped
    b"\\udc00\\ud800",  # a pair in the wrong order
    b"\\ud83d\\ude00",  # a valid pair: U+1F600
    b"\xed\xa0\x80",  # a surrogate encoded as UTF-8 (CESU-8): invalid UTF-8
    b"\xc0\xaf",  # overlong encoding of "/"
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\xef\xbb\xbf",  # a byte order mark
    b"\\u0000",  # NUL
    "\u202eRTL\u202c".encode(),
    "e\u0301\u0301\u0301".encode(),  # combining marks
    "\uffff\ufffe".encode(),  # noncharacters
    "\U0001f600".encode(),
    "Тест".encode(),
)


def unicode(rnd: random.Random) -> Raw:
    obj = valid_event(rnd)
    name = rnd.choice([*FIELDS, "registered_by", "extra"])
    obj[name] = "@@"
    piece = b"".join(rnd.choice(UNICODE_PIECES) for _ in range(rnd.randrange(1, 4)))
    raw = _dump(obj).replace(b'"@@"', b'"' + piece + b'"')
    if rnd.random() < 0.15:
        raw = b"\xef\xbb\xbf" + raw  # a BOM before the document
    if rnd.random() < 0.2:
        # as text: invalid bytes become lone surrogates, real (unencodable) code points of a str
        return raw.decode("utf-8", "surrogateescape")
    return raw


GENERATORS: dict[str, Callable[[random.Random], Raw]] = {
    "random_bytes": random_bytes,
    "mutated": mutated,
    "huge": huge,
    "nested": nested,
    "wrong_types": wrong_types,
    "non_finite": non_finite,
    "unicode": unicode,
}
