"""``dead-letters summary``: what the dead-letter topic holds, by reason and source topic.

Counts every letter in the window once, with the time range of the letters (their Kafka
timestamps: when they were dead-lettered), how many of each reason were cut (``truncated``), how
many have been sent back already by a redrive (``redriven``) and how many are of messages a
redrive sent back that were rejected again (``returned``; ``stream.tools.deadletters.ledger``), and keeps the
first few letters of each reason as samples whose original bytes are masked
(``stream.tools.deadletters.mask``): a sample never shows a person's id in clear.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schemas.decode import REASONS
from stream.settings import Settings
from stream.tools.deadletters.ledger import read_ledger
from stream.tools.deadletters.letters import Letter, letter_from_record
from stream.tools.deadletters.mask import masked_sample
from stream.tools.deadletters.scan import TopicReader
from stream.tools.deadletters.times import Window, iso_utc

SAMPLES_PER_REASON = 3
#: A letter without a ``reason`` header (not written by sferum-kpi's worker) is counted under it.
NO_REASON = "(none)"


@dataclass(slots=True)
class Sample:
    partition: int
    offset: int
    timestamp_ms: int
    detail: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    original_bytes: int
    truncated: bool
    original: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "dead_letter": {"partition": self.partition, "offset": self.offset},
            "dead_lettered_at": iso_utc(self.timestamp_ms),
            "detail": self.detail,
            "source": {"topic": self.source_topic, "partition": self.source_partition, "offset": self.source_offset},
            "original_bytes": self.original_bytes,
            "truncated": self.truncated,
            "original": self.original,
        }


@dataclass(slots=True)
class Summary:
    topic: str
    window: Window
    letters: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    by_reason_and_topic: Counter[tuple[str, str]] = field(default_factory=Counter)
    truncated: Counter[str] = field(default_factory=Counter)
    redriven: Counter[str] = field(default_factory=Counter)
    returned: Counter[str] = field(default_factory=Counter)
    first_ms: int | None = None
    last_ms: int | None = None
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def add(self, letter: Letter, *, sample: Callable[[Letter], Sample] | None, redriven: bool, returned: bool) -> None:
        reason = letter.reason or NO_REASON
        self.letters += 1
        self.by_reason[reason] += 1
        self.by_reason_and_topic[(reason, letter.source_topic or "")] += 1
        if letter.truncated:
            self.truncated[reason] += 1
        if redriven:
            self.redriven[reason] += 1
        if returned:
            self.returned[reason] += 1
        ts = letter.timestamp_ms
        self.first_ms = ts if self.first_ms is None else min(self.first_ms, ts)
        self.last_ms = ts if self.last_ms is None else max(self.last_ms, ts)
        kept = self.samples.setdefault(reason, [])
        if sample is not None and len(kept) < SAMPLES_PER_REASON:
            kept.append(sample(letter))

    def reasons(self) -> list[str]:
        """Reasons with letters: the decoder's order, then any others."""
        known = [r for r in REASONS if self.by_reason[r]]
        return known + sorted(r for r in self.by_reason if r not in REASONS)

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "window": self.window.as_dict(),
            "letters": self.letters,
            "first_dead_lettered_at": iso_utc(self.first_ms),
            "last_dead_lettered_at": iso_utc(self.last_ms),
            "by_reason": {
                reason: {
                    "letters": self.by_reason[reason],
                    "truncated": self.truncated[reason],
                    "redriven": self.redriven[reason],
                    "returned": self.returned[reason],
                    "by_source_topic": {
                        topic: n for (r, topic), n in sorted(self.by_reason_and_topic.items()) if r == reason
                    },
                    "samples": [s.as_dict() for s in self.samples.get(reason, [])],
                }
                for reason in self.reasons()
            },
        }


def sample_of(letter: Letter, *, id_key: bytes | None) -> Sample:
    return Sample(
        partition=letter.partition,
        offset=letter.offset,
        timestamp_ms=letter.timestamp_ms,
        detail=letter.detail,
        source_topic=letter.source_topic,
        source_partition=letter.source_partition,
        source_offset=letter.source_offset,
        original_bytes=letter.original_bytes,
        truncated=letter.truncated,
        original=masked_sample(letter.value, id_key=id_key),
    )


async def summarize(
    settings: Settings,
    window: Window,
    *,
    reason: str | None = None,
    id_key: bytes | None = None,
    on_total: Callable[[int], None] = lambda n: None,
    on_progress: Callable[[int], None] = lambda n: None,
) -> Summary:
    """Read the dead-letter topic (letters in ``window``, of ``reason`` if given) and sum it up.
    ``on_total`` is told the offsets to read once they are known, ``on_progress`` the offsets read."""
    summary = Summary(settings.dead_letter_topic, window)

    def make_sample(letter: Letter) -> Sample:
        return sample_of(letter, id_key=id_key)

    async with TopicReader(settings) as reader:
        tps = await reader.partitions(settings.dead_letter_topic)
        spans = await reader.spans(tps, since_ms=window.since_ms)
        ledger = await read_ledger(reader, settings)
        on_total(sum(span.end - span.start for span in spans.values()))
        async for records in reader.read(spans, on_progress):
            for record in records:
                letter = letter_from_record(record)
                if letter.timestamp_ms not in window or (reason is not None and letter.reason != reason):
                    continue
                source = letter.source
                summary.add(
                    letter,
                    sample=make_sample,
                    redriven=source is not None and source in ledger.sent,
                    returned=source is not None and source in ledger.landed,
                )
    return summary
