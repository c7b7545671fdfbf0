"""The redrive's progress: which original messages have been sent back, kept in a topic of its own.

``<dead-letter topic>.redrive`` (one partition, kept for good: ``retention.ms=-1``) holds two
kinds of records, JSON, one transaction each, written by a transactional producer whose id
belongs to the dead-letter topic (``sferum-kpi-redrive.<dead-letter topic>``):

* ``intent``: a chunk of originals about to be sent, and for each partition they go to its end
  offset just before (where they can land from);
* ``done``: the originals of that chunk that are now in their topics, and where each landed.

An original message is named by where it was first read (source topic, partition, offset), so a
message dead-lettered twice (a worker re-reading after a crash) is still sent once. The progress
does not depend on ``--reason``, ``--since`` or ``--until``: letters a filter leaves out are not
recorded and stay available to a later redrive.

Starting the producer fences any earlier redrive of the same dead-letter topic (its next write
fails) and aborts a transaction it left open. An ``intent`` without its ``done`` is a chunk that
was interrupted between the two: ``landed`` reads its partitions from the recorded offsets and
finds which of its messages are there (each carries the ``redriven_from`` header). Those count as
sent; the others are sent again by the run that recovers. So a SIGKILL at any point sends nothing
twice. (The run that recovers waits until the intent is 30 s old: a redrive fenced while it was
sending, rather than killed, has its messages in the topic by then. Only a redrive frozen for
longer, then resumed, could still land one chunk after that and send it twice.)

Where the messages landed tells a letter that came back (a message sent back and rejected again:
its letter's source is one of those places) from the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, ProducerFenced, TopicAlreadyExistsError

from stream.kafka.admin import reaching_broker
from stream.kafka.clients import connection
from stream.settings import ConfigError, Settings
from stream.tools.deadletters.letters import REDRIVEN_FROM, Source, source_text
from stream.tools.deadletters.scan import MissingTopic, Span, TopicReader

log = logging.getLogger(__name__)

LEDGER_SUFFIX = ".redrive"
MAX_TOPIC_CHARS = 249

#: ``{topic: {partition: [offsets]}}``: a set of original messages, compact in JSON.
Packed = dict[str, dict[str, list[int]]]


class Intent(msgspec.Struct, tag="intent", frozen=True):
    chunk: str
    reason: str
    at_ms: int
    originals: Packed
    #: ``[topic, partition, offset]``: where each partition the chunk writes to ended before it.
    targets: list[tuple[str, int, int]]


class Done(msgspec.Struct, tag="done", frozen=True):
    chunk: str
    at_ms: int
    sent: Packed
    #: Where the messages sent landed, in the same order as ``unpack(sent)``.
    landed: list[tuple[str, int, int]]
    #: True when written by a later run that found which messages of an interrupted chunk landed.
    recovered: bool = False


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Intent | Done).decode


class LedgerError(RuntimeError):
    """The progress topic holds something this version cannot read; the message says where."""


class RedriveFenced(RuntimeError):
    """The progress could not be recorded (another redrive of the same dead-letter topic took
    over, or the broker failed): this run stops; the next one goes on from the progress."""


def ledger_topic(settings: Settings) -> str:
    name = settings.dead_letter_topic + LEDGER_SUFFIX
    if len(name) > MAX_TOPIC_CHARS:
        raise ConfigError(
            f"the redrive's progress topic {name[:40]}… would be longer than {MAX_TOPIC_CHARS} characters: "
            "shorten SFERUM_DEAD_LETTER_TOPIC"
        )
    return name


def pack(originals: Iterable[Source]) -> Packed:
    packed: Packed = {}
    for topic, partition, offset in originals:
        packed.setdefault(topic, {}).setdefault(str(partition), []).append(offset)
    for partitions in packed.values():
        for offsets in partitions.values():
            offsets.sort()
    return packed


def unpack(packed: Packed) -> Iterator[Source]:
    for topic, partitions in packed.items():
        for partition, offsets in partitions.items():
            for offset in offsets:
                yield (topic, int(partition), offset)


class SourceSet:
    """A set of original messages, by partition (a set of offsets each)."""

    def __init__(self) -> None:
        self._by_tp: dict[tuple[str, int], set[int]] = {}

    def add(self, source: Source) -> None:
        self._by_tp.setdefault((source[0], source[1]), set()).add(source[2])

    def update(self, sources: Iterable[Source]) -> None:
        for source in sources:
            self.add(source)

    def __contains__(self, source: object) -> bool:
        if not isinstance(source, tuple) or len(source) != 3:
            return False
        offsets = self._by_tp.get((source[0], source[1]))
        return offsets is not None and source[2] in offsets

    def __len__(self) -> int:
        return sum(len(offsets) for offsets in self._by_tp.values())


def done_of(intent: Intent, landed: dict[Source, Source], *, recovered: bool = False) -> Done:
    """The ``done`` of a chunk whose messages in ``landed`` (original -> where it landed) are sent."""
    sent = pack(landed)
    return Done(intent.chunk, now_ms(), sent, [landed[s] for s in unpack(sent)], recovered)


@dataclass(slots=True)
class Ledger:
    #: Original messages sent back.
    sent: SourceSet = field(default_factory=SourceSet)
    #: Where they landed in their topics: a letter from one of these came back.
    landed: SourceSet = field(default_factory=SourceSet)
    #: Chunks with an ``intent`` and no ``done``: interrupted, to be recovered.
    open: dict[str, Intent] = field(default_factory=dict)

    def apply(self, record: Intent | Done) -> None:
        if isinstance(record, Intent):
            self.open[record.chunk] = record
        else:
            self.open.pop(record.chunk, None)
            self.sent.update(unpack(record.sent))
            self.landed.update(record.landed)


async def read_ledger(reader: TopicReader, settings: Settings) -> Ledger:
    """Everything committed to the progress topic (none yet: an empty ledger)."""
    ledger = Ledger()
    topic = ledger_topic(settings)
    try:
        tps = await reader.partitions(topic)
    except MissingTopic:
        return ledger
    done_later: list[Done] = []
    async for records in reader.read(await reader.spans(tps)):
        for record in records:
            try:
                entry = _decode(record.value or b"")
            except msgspec.DecodeError:
                raise LedgerError(
                    f"{topic}[{record.partition}] offset {record.offset} is not a redrive progress record; "
                    "nothing is sent while the progress cannot be read"
                ) from None
            if isinstance(entry, Done):
                done_later.append(entry)  # applied after every intent: the ledger is order-free
            else:
                ledger.apply(entry)
    for entry in done_later:
        ledger.apply(entry)
    return ledger


async def landed(reader: TopicReader, intent: Intent) -> dict[Source, Source]:
    """The originals of an interrupted chunk that reached their topics, and where. ``reader``
    must read ``read_uncommitted`` (another producer's open transaction must not hide them)."""
    wanted = {source_text(s): s for s in unpack(intent.originals)}
    tps = [TopicPartition(topic, partition) for topic, partition, _ in intent.targets]
    ends = await reader.ends(tps)
    spans = {TopicPartition(t, p): Span(offset, ends[TopicPartition(t, p)]) for t, p, offset in intent.targets}
    found: dict[Source, Source] = {}
    async for records in reader.read(spans):
        for record in records:
            for name, value in record.headers or ():
                if name == REDRIVEN_FROM and value is not None:
                    source = wanted.get(bytes(value).decode("utf-8", "replace"))
                    if source is not None:
                        found.setdefault(source, (record.topic, record.partition, record.offset))
    return found


async def ensure_ledger_topic(settings: Settings) -> None:
    """Create the progress topic if it is missing: one partition, never deleted by retention."""
    admin = AIOKafkaAdminClient(**connection(settings, request_timeout_ms=15_000))
    try:
        async with reaching_broker(settings):
            await admin.start()
        topic = NewTopic(ledger_topic(settings), 1, settings.replication_factor, topic_configs={"retention.ms": "-1"})
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([topic])
    finally:
        await admin.close()


def quiet_fenced_futures(loop: asyncio.AbstractEventLoop) -> None:
    """Once fenced or failed, the producer leaves futures with Kafka errors that nobody reads;
    asyncio would print each with a traceback after the one-line error. Others are reported."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not isinstance(context.get("exception"), KafkaError | ProducerFenced):
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


class LedgerWriter:
    """Writes progress records, one transaction each. ``start`` fences an earlier redrive."""

    def __init__(self, settings: Settings) -> None:
        self.topic = ledger_topic(settings)
        self.settings = settings
        self._producer = AIOKafkaProducer(
            **connection(settings),
            transactional_id=f"sferum-kpi-redrive.{settings.dead_letter_topic}",
            acks="all",
            compression_type="gzip",  # offsets compress well; a chunk's record stays small
        )

    async def start(self) -> None:
        quiet_fenced_futures(asyncio.get_running_loop())
        async with reaching_broker(self.settings):
            await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def write(self, record: Intent | Done) -> None:
        kind = "intent" if isinstance(record, Intent) else "done"
        try:
            async with self._producer.transaction():
                await self._producer.send_and_wait(self.topic, _encode(record), key=f"{record.chunk}/{kind}".encode())
        except ProducerFenced:
            raise RedriveFenced(
                f"another redrive of {self.settings.dead_letter_topic} started and took over; this one stopped "
                f"(its progress is recorded up to chunk {record.chunk})"
            ) from None
        except KafkaError as exc:
            # A broker newer than aiokafka answers a fenced producer's commit with an error code
            # aiokafka does not know: fenced or failed, this run cannot record progress any more.
            raise RedriveFenced(
                f"recording the progress failed ({exc}): another redrive of {self.settings.dead_letter_topic} "
                f"may have taken over, or the broker failed; this one stopped (its progress is recorded up to "
                f"chunk {record.chunk}); run the same command again, nothing is sent twice"
            ) from None


def now_ms() -> int:
    return int(time.time() * 1000)
