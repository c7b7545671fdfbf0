"""The redrive's decisions and its progress records, without a broker: which letters are sent,
refused or skipped, what is sent, and how the progress topic's records add up."""

from __future__ import annotations

import pytest

from stream.tools.deadletters.ledger import Done, Intent, Ledger, SourceSet, _decode, _encode, done_of, pack, unpack
from stream.tools.deadletters.letters import Letter
from stream.tools.deadletters.redrive import (
    ALREADY_SENT,
    OUTSIDE,
    REFUSED_NO_SOURCE,
    REFUSED_NOT_INPUT,
    REFUSED_TRUNCATED,
    RETURNED,
    SEND,
    Selection,
    message_of,
    verdict,
)
from stream.tools.deadletters.times import Window


def letter(
    reason: str = "late",
    *,
    ts: int = 5000,
    topic: str | None = "ev",
    partition: int | None = 1,
    offset: int | None = 7,
    cut: bool = False,
) -> Letter:
    return Letter(3, 99, ts, b"t00012", b"{}", reason, "", topic, partition, offset, cut, 2)


SELECTION = Selection("late", Window(1000, 9000))
PARTITIONS = {"ev": 4}  # of the input topics that exist


@pytest.mark.parametrize(
    ("item", "sent", "expected"),
    [
        (letter(), (), SEND),
        (letter("future"), (), OUTSIDE),
        (letter(ts=999), (), OUTSIDE),
        (letter(ts=9000), (), OUTSIDE),
        (letter(ts=1000), (), SEND),
        (letter(cut=True), (), REFUSED_TRUNCATED),
        (letter(cut=True), (("ev", 1, 7),), REFUSED_TRUNCATED),  # refused first: its bytes are not the message
        (letter(topic=None), (), REFUSED_NO_SOURCE),
        (letter(offset=None), (), REFUSED_NO_SOURCE),
        (letter(partition=4), (), REFUSED_NO_SOURCE),  # the topic has partitions 0-3 now
        (letter(topic="gone"), (), REFUSED_NOT_INPUT),
        (letter(topic="other"), (), REFUSED_NOT_INPUT),
        (letter(topic="input-gone"), (), REFUSED_NO_SOURCE),  # an input topic that does not exist
        (letter(), (("ev", 1, 7),), ALREADY_SENT),
        (letter(), (("ev", 1, 8), ("ev", 2, 7)), SEND),
        (letter(offset=500), (), RETURNED),  # ev/1/500 is where an earlier redrive's message landed
    ],
)
def test_what_a_redrive_does_with_a_letter(item: Letter, sent: tuple, expected: str) -> None:  # type: ignore[type-arg]
    done, landed = SourceSet(), SourceSet()
    done.update(sent)
    landed.add(("ev", 1, 500))
    inputs = {"ev", "input-gone"}
    assert verdict(item, SELECTION, sent=done, landed=landed, input_topics=inputs, partitions=PARTITIONS) == expected


def test_a_letter_that_came_back_is_sent_again_only_when_asked() -> None:
    landed = SourceSet()
    landed.add(("ev", 1, 7))
    again = Selection("late", Window(), again=True)
    common = {"sent": SourceSet(), "landed": landed, "input_topics": {"ev"}, "partitions": PARTITIONS}
    assert verdict(letter(), Selection("late", Window()), **common) == RETURNED  # type: ignore[arg-type]
    assert verdict(letter(), again, **common) == SEND  # type: ignore[arg-type]


def test_a_letter_goes_back_to_its_partition_with_its_key_and_says_where_it_came_from() -> None:
    assert message_of(letter(), ("ev", 1, 7), "dl") == {
        "topic": "ev",
        "partition": 1,
        "key": b"t00012",
        "value": b"{}",
        "headers": [
            ("redriven_from", b"ev/1/7"),
            ("redriven_letter", b"dl/3/99"),
            ("redriven_reason", b"late"),
        ],
    }


def test_sets_of_originals_pack_into_json_and_back() -> None:
    sources = [("b", 0, 5), ("a", 1, 3), ("a", 1, 2), ("a", 0, 9)]
    packed = pack(sources)
    assert packed == {"b": {"0": [5]}, "a": {"1": [2, 3], "0": [9]}}
    assert sorted(unpack(packed)) == sorted(sources)
    found = SourceSet()
    found.update(sources)
    assert len(found) == 4 and ("a", 1, 3) in found
    assert ("a", 1, 4) not in found and ("c", 0, 5) not in found and "a" not in found


def test_progress_records_round_trip_through_json() -> None:
    intent = Intent("run-000001", "late", 123, pack([("ev", 0, 1)]), [("ev", 0, 100)])
    done = Done("run-000001", 124, pack([("ev", 0, 1)]), [("ev", 0, 100)], recovered=True)
    assert _decode(_encode(intent)) == intent
    assert _decode(_encode(done)) == done
    assert _encode(intent).startswith(b'{"type":"intent"')


def test_a_done_lists_where_each_original_landed_in_its_own_order() -> None:
    intent = Intent("c", "late", 0, pack([("ev", 1, 9), ("ev", 0, 4)]), [])
    done = done_of(intent, {("ev", 1, 9): ("ev", 1, 500), ("ev", 0, 4): ("ev", 0, 300)})
    assert list(unpack(done.sent)) == [("ev", 1, 9), ("ev", 0, 4)]
    assert done.landed == [("ev", 1, 500), ("ev", 0, 300)]


def test_the_ledger_knows_what_was_sent_where_it_landed_and_which_chunks_were_interrupted() -> None:
    ledger = Ledger()
    first = Intent("c1", "late", 0, pack([("ev", 0, 1), ("ev", 0, 2)]), [("ev", 0, 10)])
    second = Intent("c2", "late", 0, pack([("ev", 0, 3)]), [("ev", 0, 12)])
    ledger.apply(first)
    ledger.apply(second)
    ledger.apply(done_of(first, {("ev", 0, 1): ("ev", 0, 10), ("ev", 0, 2): ("ev", 0, 11)}))
    assert list(ledger.open) == ["c2"]
    assert ("ev", 0, 1) in ledger.sent and ("ev", 0, 3) not in ledger.sent
    assert ("ev", 0, 11) in ledger.landed and ("ev", 0, 1) not in ledger.landed
    ledger.apply(done_of(second, {}, recovered=True))  # recovered: none of it had landed
    assert not ledger.open and ("ev", 0, 3) not in ledger.sent
