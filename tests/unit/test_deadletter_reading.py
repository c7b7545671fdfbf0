"""What the dead-letter tools read from a letter (headers as the worker writes them, tolerant of
missing ones) and how ``summary`` adds letters up."""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.tools.deadletters.letters import Letter, letter_from_record, source_text
from stream.tools.deadletters.summary import NO_REASON, Summary, sample_of
from stream.tools.deadletters.times import Window


@dataclass
class Record:
    """The fields of an aiokafka ConsumerRecord the tools read."""

    value: bytes | None
    key: bytes | None = b"t00012"
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    partition: int = 1
    offset: int = 40
    timestamp: int = 1_790_000_000_000
    topic: str = "dl"


WORKER_HEADERS = [
    ("reason", b"late"),
    ("detail", b"event is 500 h older than the user's stream time; its week is closed"),
    ("source_topic", b"sferum.events"),
    ("source_partition", b"2"),
    ("source_offset", b"1234"),
]


def test_a_letter_reads_the_workers_headers() -> None:
    letter = letter_from_record(Record(b'{"ts":1}', headers=WORKER_HEADERS))
    assert letter == Letter(
        partition=1,
        offset=40,
        timestamp_ms=1_790_000_000_000,
        key=b"t00012",
        value=b'{"ts":1}',
        reason="late",
        detail="event is 500 h older than the user's stream time; its week is closed",
        source_topic="sferum.events",
        source_partition=2,
        source_offset=1234,
        truncated=False,
        original_bytes=8,
    )
    assert letter.source == ("sferum.events", 2, 1234)
    assert source_text(("sferum.events", 2, 1234)) == "sferum.events/2/1234"


def test_a_cut_letter_says_how_long_the_original_was() -> None:
    headers = [("reason", b"too_large"), ("truncated", b"true"), ("original_bytes", b"10485760")]
    letter = letter_from_record(Record(b"x" * 100, headers=headers))
    assert letter.truncated and letter.original_bytes == 10_485_760


def test_a_letter_without_headers_or_value_is_read_with_empty_fields() -> None:
    letter = letter_from_record(Record(None, key=None))
    assert (letter.reason, letter.detail, letter.value, letter.key) == ("", "", b"", None)
    assert letter.source is None and not letter.truncated and letter.original_bytes == 0


def test_unreadable_numbers_leave_the_source_unknown_and_the_first_of_two_headers_counts() -> None:
    headers = [
        ("source_topic", b"sferum.events"),
        ("source_partition", "²".encode()),
        ("source_offset", b"-1"),
        ("reason", b"late"),
        ("reason", b"bad_json"),
    ]
    letter = letter_from_record(Record(b"", headers=headers))
    assert (letter.source_partition, letter.source_offset, letter.source) == (None, None, None)
    assert letter.reason == "late"


def _letter(reason: str, *, topic: str | None = "ev", offset: int = 0, ts: int = 1000, cut: bool = False) -> Letter:
    return Letter(0, offset, ts, b"k", b'{"user_id":"t00012"}', reason, f"d{offset}", topic, 0, offset, cut, 20)


def test_a_summary_counts_by_reason_and_topic_with_the_time_range_and_three_samples_a_reason() -> None:
    summary = Summary("dl", Window())
    letters = [_letter("late", offset=i, ts=1000 + i) for i in range(5)]
    letters += [_letter("bad_json", topic="other", offset=10, ts=900), _letter("too_large", offset=11, cut=True)]
    letters += [_letter("", topic=None, offset=12, ts=5000), _letter("zz_foreign", offset=13)]
    for letter in letters:
        summary.add(
            letter,
            sample=lambda x: sample_of(x, id_key=None),
            redriven=letter.offset in (0, 1),
            returned=letter.offset == 4,
        )
    assert summary.letters == 9
    assert summary.reasons() == ["bad_json", "too_large", "late", NO_REASON, "zz_foreign"]
    assert (summary.first_ms, summary.last_ms) == (900, 5000)
    data = summary.as_dict()
    assert data["first_dead_lettered_at"] == "1970-01-01T00:00:00.900000+00:00"
    late = data["by_reason"]["late"]
    assert (late["letters"], late["truncated"], late["redriven"], late["returned"]) == (5, 0, 2, 1)
    assert late["by_source_topic"] == {"ev": 5}
    assert [s["source"]["offset"] for s in late["samples"]] == [0, 1, 2]
    assert late["samples"][0] == {
        "dead_letter": {"partition": 0, "offset": 0},
        "dead_lettered_at": "1970-01-01T00:00:01+00:00",
        "detail": "d0",
        "source": {"topic": "ev", "partition": 0, "offset": 0},
        "original_bytes": 20,
        "truncated": False,
        "original": '{"user_id":"***"}',
    }
    assert data["by_reason"]["too_large"]["truncated"] == 1
    assert data["by_reason"]["bad_json"]["by_source_topic"] == {"other": 1}
    assert data["by_reason"][NO_REASON]["by_source_topic"] == {"": 1}


def test_an_empty_summary() -> None:
    data = Summary("dl", Window(5, 6)).as_dict()
    assert data == {
        "topic": "dl",
        "window": {"since": "1970-01-01T00:00:00.005000+00:00", "until": "1970-01-01T00:00:00.006000+00:00"},
        "letters": 0,
        "first_dead_lettered_at": None,
        "last_dead_lettered_at": None,
        "by_reason": {},
    }
