"""Dead letters as Kafka records: the original bytes and key, and headers saying why and whence.

Headers: ``reason``, ``detail``, ``source_topic``, ``source_partition``, ``source_offset``. A
message longer than ``min(max_event_bytes, DEAD_LETTER_MAX_BYTES)`` (only a ``too_large`` one can
be) is cut there, with headers ``truncated`` (``true``), ``original_bytes`` and
``original_sha256`` to tell the whole message by.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from stream.core.batch import DeadLetter

#: The most bytes of an original message a dead letter carries. Only a ``too_large`` message can
#: be longer than ``SFERUM_MAX_EVENT_BYTES`` (64 KiB); the producer refuses a record over its
#: request size, and the broker one over its ``message.max.bytes`` (about 1 MB).
DEAD_LETTER_MAX_BYTES: Final = 512 * 1024


class Source(msgspec.Struct, frozen=True, gc=False):
    """Where an input record came from: the origin of the worker's records."""

    topic: str
    partition: int
    offset: int


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    source: Source = letter.record.origin
    return [
        ("reason", letter.reason.encode()),
        ("detail", letter.detail.encode()),
        ("source_topic", source.topic.encode()),
        ("source_partition", str(source.partition).encode()),
        ("source_offset", str(source.offset).encode()),
    ]


def dead_letter_message(letter: DeadLetter, max_bytes: int) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The dead letter's value and headers."""
    value = letter.record.value
    headers = dead_letter_headers(letter)
    limit = min(max_bytes, DEAD_LETTER_MAX_BYTES)
    if len(value) <= limit:
        return value, headers
    headers += [
        ("truncated", b"true"),
        ("original_bytes", str(len(value)).encode()),
        ("original_sha256", hashlib.sha256(value).hexdigest().encode()),
    ]
    return bytes(value[:limit]), headers
