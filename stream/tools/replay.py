"""``replay``: NDJSON files through the same core as the worker, without Kafka, into the same tables."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

from sinks.clickhouse import ClickHouseSink
from sinks.kpi import refresh_kpi
from stream.core.batch import BatchProcessor, DeadLetter, DictState, MessageTally, Record
from stream.settings import Settings
from stream.tools.ndjson import count_blank_lines, iter_lines

REPLAY_BATCH = 5000


@dataclass(slots=True)
class ReplaySummary:
    tally: MessageTally = field(default_factory=MessageTally)
    blank_lines: int = 0
    rows_written: int = 0
    seconds: float = 0.0


def dead_letter_json(letter: DeadLetter, source: str) -> bytes:
    """One dead-letter line: reason, detail, where it came from, and the original bytes."""
    raw = letter.record.value
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return orjson.dumps(
        {
            "reason": letter.reason,
            "detail": letter.detail,
            "source": source,
            "original": text,
            "original_b64": base64.b64encode(raw).decode("ascii"),
        }
    )


def _records(paths: Iterable[Path]) -> Iterator[Record]:
    for path in paths:
        for number, line in iter_lines(path):
            yield Record(line, None, (path.name, number))


def replay(
    paths: list[Path],
    settings: Settings,
    sink: ClickHouseSink,
    dead_letters: IO[bytes],
    on_progress: Callable[[int], None] = lambda n: None,
    clock: Callable[[], float] | None = None,
) -> ReplaySummary:
    """Process the files in order; write rows every ``flush_max_pending_events`` events and at the end."""
    started = time.perf_counter()
    processor = BatchProcessor(settings, check_key=False, clock=clock or time.time)
    states = DictState()
    summary = ReplaySummary(blank_lines=sum(count_blank_lines(p) for p in paths))
    sink.ensure_schema()
    since_flush = 0
    batch: list[Record] = []

    def run_batch() -> None:
        nonlocal since_flush
        outcome = processor.process(batch, states)
        summary.tally.add(outcome.tally)
        for letter in outcome.dead_letters:
            name, number = letter.record.origin
            dead_letters.write(dead_letter_json(letter, f"{name}:{number}") + b"\n")
        since_flush += len(batch)
        on_progress(len(batch))
        batch.clear()
        if since_flush >= settings.flush_max_pending_events:
            summary.rows_written += sink.write(processor.take_pending())
            since_flush = 0

    for record in _records(paths):
        batch.append(record)
        if len(batch) >= REPLAY_BATCH:
            run_batch()
    if batch:
        run_batch()
    summary.rows_written += sink.write(processor.take_pending())
    refresh_kpi(sink)  # every week: cumulative indicators depend on all of them
    summary.seconds = time.perf_counter() - started
    return summary
