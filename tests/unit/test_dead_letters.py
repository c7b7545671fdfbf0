"""``stream.kafka.deadletters.dead_letter_message``: a dead letter is never too large to send. A 10 MB
message (``too_large``) sent as it is was over the producer's request size (1 MB): the agent
crashed on it and the worker stalled for good."""

from __future__ import annotations

import hashlib

from stream.core.batch import DeadLetter, Record
from stream.kafka.deadletters import Source, dead_letter_message


def letter(value: bytes) -> DeadLetter:
    return DeadLetter(Record(value, b"k", Source("events", 0, 7)), "too_large", "big")


def test_a_dead_letter_within_the_limit_carries_the_original_bytes() -> None:
    value, headers = dead_letter_message(letter(b"x" * 1000), max_bytes=1000)
    assert value == b"x" * 1000
    assert dict(headers) == {
        "reason": b"too_large",
        "detail": b"big",
        "source_topic": b"events",
        "source_partition": b"0",
        "source_offset": b"7",
    }


def test_a_dead_letter_of_10_mb_is_cut_to_the_limit_and_says_what_it_was() -> None:
    big = bytes(range(256)) * (10 * 4096)  # 10 MiB
    value, headers = dead_letter_message(letter(big), max_bytes=65536)
    assert value == big[:65536]
    found = dict(headers)
    assert found["truncated"] == b"true"
    assert found["original_bytes"] == b"10485760"
    assert found["original_sha256"] == hashlib.sha256(big).hexdigest().encode()


def test_a_dead_letter_never_exceeds_half_a_mebibyte_whatever_the_event_limit() -> None:
    value, _ = dead_letter_message(letter(b"y" * (2 << 20)), max_bytes=4 << 20)
    assert len(value) == 512 * 1024
