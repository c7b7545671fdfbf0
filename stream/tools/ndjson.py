"""Reading NDJSON event files: one message per line, bytes untouched but for the line ending.

Blank lines separate nothing and carry nothing, so both ``produce`` and ``replay`` skip them
(and say how many); every other line is one message, valid or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, line without its line ending) for every non-blank line."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            body = line.rstrip(b"\r\n")
            if body.strip():
                yield number, body


def count_blank_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if not line.strip())


def routing_of(line: bytes) -> tuple[bytes | None, str | None]:
    """(Kafka key = ``user_id``, ``type``) of a line, each None where the line lacks a usable one."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    user, etype = obj.get("user_id"), obj.get("type")
    key = user.encode() if isinstance(user, str) and user else None
    return key, etype if isinstance(etype, str) else None
