"""A dead letter as the tools read it: the worker's headers parsed, its place in the topic.

The worker writes each rejected message to the dead-letter topic with the original bytes as the
value (cut at ``min(SFERUM_MAX_EVENT_BYTES, 512 KiB)``), the original key, and headers
``reason``, ``detail``, ``source_topic``, ``source_partition``, ``source_offset`` (and, for a cut
one, ``truncated: true``, ``original_bytes``, ``original_sha256``). Reading never fails on a
letter: a missing or unreadable header leaves its field empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

#: Headers the redrive puts on each message it sends back (see ``stream.tools.deadletters.redrive``).
REDRIVEN_FROM = "redriven_from"  # the original message: ``source_topic/partition/offset``
REDRIVEN_LETTER = "redriven_letter"  # the dead letter it came from: ``topic/partition/offset``
REDRIVEN_REASON = "redriven_reason"

#: The original message a letter came from: (topic, partition, offset).
Source = tuple[str, int, int]


class Letter(msgspec.Struct, frozen=True, gc=False):
    partition: int  # of the dead-letter topic
    offset: int
    #: Kafka timestamp of the letter: when the worker dead-lettered the message (ms).
    timestamp_ms: int
    key: bytes | None
    value: bytes
    reason: str
    detail: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    truncated: bool
    #: Length of the original message (the ``original_bytes`` header of a cut letter).
    original_bytes: int

    @property
    def source(self) -> Source | None:
        """Where the original message was, or None when the headers do not say."""
        if self.source_topic is None or self.source_partition is None or self.source_offset is None:
            return None
        return (self.source_topic, self.source_partition, self.source_offset)


def letter_from_record(record: Any) -> Letter:
    """A letter from an aiokafka ``ConsumerRecord`` of the dead-letter topic."""
    headers = _headers(record.headers or ())
    value = bytes(record.value) if record.value is not None else b""
    truncated = headers.get("truncated") == "true"
    original = _int(headers.get("original_bytes")) if truncated else None
    return Letter(
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=int(record.timestamp),
        key=bytes(record.key) if record.key is not None else None,
        value=value,
        reason=headers.get("reason") or "",
        detail=headers.get("detail") or "",
        source_topic=headers.get("source_topic") or None,
        source_partition=_int(headers.get("source_partition")),
        source_offset=_int(headers.get("source_offset")),
        truncated=truncated,
        original_bytes=original if original is not None else len(value),
    )


def source_text(source: Source) -> str:
    """``topic/partition/offset``: how headers and reports name a message."""
    return f"{source[0]}/{source[1]}/{source[2]}"


def _headers(items: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, raw in items:
        if name not in found and raw is not None:
            found[name] = bytes(raw).decode("utf-8", "replace")
    return found


def _int(text: str | None) -> int | None:
    if text is None or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
