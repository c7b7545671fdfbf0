"""``dead-letters redrive``: send dead letters of one reason back to their source topics, once.

What is sent: the letter's value (the original bytes) with its original key, to the partition
the original was read from (a user's state lives in the partition of its messages), with headers
``redriven_from`` (the original: ``source_topic/partition/offset``), ``redriven_letter`` (the
dead letter) and ``redriven_reason``. The worker decodes it again like any message: a ``late``
event counts if the lateness allows it now, or returns to the dead-letter topic as a new letter.

Which letters: those of ``--reason`` dead-lettered in the window (``--since``/``--until``, by the
letters' Kafka timestamps), read up to where the dead-letter topic ends when the run starts, in
the topic's order. Refused, and counted: letters cut by the worker (``truncated``: their bytes
are not the message), letters that do not say where they came from, or whose source partition
no longer exists, and letters from a topic that is not an input topic (``SFERUM_INPUT_TOPICS``).
Skipped, and counted: originals an earlier redrive sent back (``stream.tools.deadletters.ledger``), and
letters that came back: a message a redrive sent that was rejected again (its original was sent
once already; ``--again`` sends these too, after a further fix).

How it stays exactly once: letters go in chunks; for each chunk an ``intent`` is recorded, the
messages are sent (an idempotent producer: retries add nothing) and a ``done`` is recorded. A run
interrupted between the two leaves the ``intent``; the next run finds which of its messages
landed and sends only the others. The messages themselves are not written in a Kafka transaction
on purpose: a transaction leaves a commit marker in the input partition, an offset no consumer
receives, and the worker's hole guard (``stream.contiguity``) would wait for that offset forever.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka import AIOKafkaProducer, TopicPartition

from stream.kafka.admin import reaching_broker
from stream.kafka.clients import connection
from stream.settings import Settings
from stream.tools.deadletters.ledger import (
    Intent,
    Ledger,
    LedgerWriter,
    done_of,
    ensure_ledger_topic,
    landed,
    now_ms,
    pack,
    read_ledger,
    unpack,
)
from stream.tools.deadletters.letters import (
    REDRIVEN_FROM,
    REDRIVEN_LETTER,
    REDRIVEN_REASON,
    Letter,
    Source,
    letter_from_record,
    source_text,
)
from stream.tools.deadletters.scan import TopicReader, partition_counts
from stream.tools.deadletters.times import Window

#: Letters per chunk: per chunk, two small transactions on the progress topic.
CHUNK_LETTERS = 500
#: An interrupted chunk is looked for only once its intent is this old: if it was not killed but
#: fenced by this run (two redrives at once), its messages in flight have landed by then.
SETTLE_S = 30.0

# What a redrive does with a letter.
SEND: Final = "send"
OUTSIDE: Final = "outside"  # not in the window, or another reason: untouched
ALREADY_SENT: Final = "already_sent"
#: A letter of a message an earlier redrive sent back, rejected again: its original was sent once
#: already, so it is skipped unless the selection says ``again`` (after a further fix).
RETURNED: Final = "returned"
REFUSED_TRUNCATED: Final = "refused_truncated"
REFUSED_NO_SOURCE: Final = "refused_no_source"
REFUSED_NOT_INPUT: Final = "refused_not_input"


@dataclass(frozen=True, slots=True)
class Selection:
    reason: str
    window: Window
    #: Send letters that came back after an earlier redrive too.
    again: bool = False


def verdict(
    letter: Letter,
    selection: Selection,
    *,
    sent: Container[Source],
    landed: Container[Source],
    input_topics: Container[str],
    partitions: Mapping[str, int],
) -> str:
    """What a redrive of ``selection`` does with ``letter``, given the originals already sent,
    where they landed, and the partition count of each input topic."""
    if letter.reason != selection.reason or letter.timestamp_ms not in selection.window:
        return OUTSIDE
    if letter.truncated:
        return REFUSED_TRUNCATED
    source = letter.source
    if source is None:
        return REFUSED_NO_SOURCE
    if source[0] not in input_topics:
        return REFUSED_NOT_INPUT
    if source[1] >= partitions.get(source[0], 0):
        return REFUSED_NO_SOURCE
    if source in sent:
        return ALREADY_SENT
    if source in landed and not selection.again:
        return RETURNED
    return SEND


@dataclass(slots=True)
class RedriveReport:
    topic: str
    selection: Selection
    dry_run: bool
    #: Letters read (every reason) and letters of the reason in the window.
    read: int = 0
    matching: int = 0
    #: Messages sent back (with ``dry_run``: that would be), by source topic.
    sent: Counter[str] = field(default_factory=Counter)
    #: Of those, letters of messages an earlier redrive sent back (only with ``again``).
    sent_again: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    #: Interrupted chunks of an earlier run, and how many of their messages had landed.
    recovered_chunks: int = 0
    recovered_landed: int = 0
    recovered_not_landed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dead_letter_topic": self.topic,
            "reason": self.selection.reason,
            "window": self.selection.window.as_dict(),
            "again": self.selection.again,
            "dry_run": self.dry_run,
            "letters_read": self.read,
            "letters_matching": self.matching,
            ("would_send" if self.dry_run else "sent"): sum(self.sent.values()),
            "sent_by_topic": dict(sorted(self.sent.items())),
            "sent_again": self.sent_again,
            "already_sent": self.outcomes[ALREADY_SENT],
            "returned": self.outcomes[RETURNED],
            "refused_truncated": self.outcomes[REFUSED_TRUNCATED],
            "refused_no_source": self.outcomes[REFUSED_NO_SOURCE],
            "refused_not_input": self.outcomes[REFUSED_NOT_INPUT],
            "recovered_chunks": self.recovered_chunks,
            "recovered_landed": self.recovered_landed,
            "recovered_not_landed": self.recovered_not_landed,
            "seconds": round(self.seconds, 3),
        }


class _Sender:
    """Sends chunks: records the intent, sends, records what was sent."""

    def __init__(
        self, settings: Settings, report: RedriveReport, raw: TopicReader, notice: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.notice = notice
        self.report = report
        self.raw = raw
        #: Read once this run has fenced any earlier one (``start``).
        self.ledger = Ledger()
        self.run = uuid.uuid4().hex[:12]
        self.chunks = 0
        self.writer: LedgerWriter | None = None
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        await ensure_ledger_topic(self.settings)
        self.writer = LedgerWriter(self.settings)
        await self.writer.start()
        self.producer = AIOKafkaProducer(
            **connection(self.settings),
            enable_idempotence=True,  # a retry never sends a message twice
            acks="all",
            linger_ms=5,
            max_request_size=2 * 1024 * 1024,  # a letter carries up to 512 KiB
        )
        async with reaching_broker(self.settings):
            await self.producer.start()

    async def stop(self) -> None:
        for client in (self.producer, self.writer):
            if client is not None:
                await client.stop()

    async def recover(self, intent: Intent) -> None:
        wait_s = intent.at_ms / 1000 + SETTLE_S - time.time()
        if self.writer is not None and wait_s > 0:
            self.notice(f"an interrupted chunk was begun {SETTLE_S - wait_s:.0f} s ago: waiting {wait_s:.0f} s for it")
            await asyncio.sleep(wait_s)
        found = await landed(self.raw, intent)
        expected = sum(1 for _ in unpack(intent.originals))
        self.report.recovered_chunks += 1
        self.report.recovered_landed += len(found)
        self.report.recovered_not_landed += expected - len(found)
        done = done_of(intent, found, recovered=True)
        if self.writer is not None:
            await self.writer.write(done)
        self.ledger.apply(done)

    async def send(self, chunk: list[tuple[Letter, Source]]) -> None:
        originals = [source for _, source in chunk]
        self.report.sent.update(topic for topic, _, _ in originals)
        if self.writer is None or self.producer is None:  # a dry run
            return
        tps = sorted({TopicPartition(topic, partition) for topic, partition, _ in originals})
        ends = await self.raw.ends(tps)
        self.chunks += 1
        intent = Intent(
            chunk=f"{self.run}-{self.chunks:06d}",
            reason=self.report.selection.reason,
            at_ms=now_ms(),
            originals=pack(originals),
            targets=[(tp.topic, tp.partition, ends[tp]) for tp in tps],
        )
        await self.writer.write(intent)
        topic = self.settings.dead_letter_topic
        sends = [await self.producer.send(**message_of(letter, source, topic)) for letter, source in chunk]
        placed = await asyncio.gather(*sends)
        where = {source: (m.topic, m.partition, m.offset) for source, m in zip(originals, placed, strict=True)}
        done = done_of(intent, where)
        await self.writer.write(done)
        self.ledger.apply(done)


def message_of(letter: Letter, source: Source, dead_letter_topic: str) -> dict[str, Any]:
    """The keyword arguments of the producer's ``send`` that send ``letter`` back."""
    return {
        "topic": source[0],
        "partition": source[1],
        "key": letter.key,
        "value": letter.value,
        "headers": [
            (REDRIVEN_FROM, source_text(source).encode()),
            (REDRIVEN_LETTER, f"{dead_letter_topic}/{letter.partition}/{letter.offset}".encode()),
            (REDRIVEN_REASON, letter.reason.encode()),
        ],
    }


async def redrive(
    settings: Settings,
    selection: Selection,
    *,
    dry_run: bool = False,
    chunk_letters: int = CHUNK_LETTERS,
    on_total: Callable[[int], None] = lambda n: None,
    on_progress: Callable[[int], None] = lambda n: None,
    notice: Callable[[str], None] = lambda text: None,
) -> RedriveReport:
    """Send the selected letters back (with ``dry_run``, only count them); see the module's doc.
    ``notice`` is told what the run waits for."""
    started = time.perf_counter()
    report = RedriveReport(settings.dead_letter_topic, selection, dry_run)
    inputs = frozenset(settings.consumed_topics)
    async with TopicReader(settings) as reader, TopicReader(settings, isolation="read_uncommitted") as raw:
        tps = await reader.partitions(settings.dead_letter_topic)
        sender = _Sender(settings, report, raw, notice)
        try:
            if not dry_run:
                await sender.start()  # before reading the progress: fences an earlier run
            sender.ledger = ledger = await read_ledger(reader, settings)
            for intent in list(ledger.open.values()):
                await sender.recover(intent)
            partitions = await partition_counts(settings, sorted(inputs))
            spans = await reader.spans(tps, since_ms=selection.window.since_ms)
            on_total(sum(span.end - span.start for span in spans.values()))
            chunk: list[tuple[Letter, Source]] = []
            async for records in reader.read(spans, on_progress):
                for record in records:
                    letter = letter_from_record(record)
                    report.read += 1
                    what = verdict(
                        letter,
                        selection,
                        sent=ledger.sent,
                        landed=ledger.landed,
                        input_topics=inputs,
                        partitions=partitions,
                    )
                    if what == OUTSIDE:
                        continue
                    report.matching += 1
                    if what != SEND:
                        report.outcomes[what] += 1
                        continue
                    source = letter.source
                    if source is None:  # pragma: no cover - verdict refuses those
                        continue
                    chunk.append((letter, source))
                    report.sent_again += source in ledger.landed
                    ledger.sent.add(source)  # a second letter of the same message is now already sent
                    if len(chunk) >= chunk_letters:
                        await sender.send(chunk)
                        chunk = []
            if chunk:
                await sender.send(chunk)
        finally:
            await sender.stop()
    report.seconds = time.perf_counter() - started
    return report
