"""Bring a partition's local store up to its changelog before the partition is read.

The store holds the committed state up to ``changelog_next`` (``stream.state.store``); the
changelog's committed records from there on are applied to it, in order, in write batches. Read
``read_committed``, a changelog holds only what committed transactions wrote: the records of a
transaction that was aborted, or of a fenced former owner, are not read.

A store whose position lies outside the changelog (the topic was recreated, or compaction removed
records it had not read yet) is wiped and restored from the changelog's start.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from aiokafka import TopicPartition

from stream.kafka.clients import changelog_reader, changelog_topic
from stream.settings import Settings
from stream.state.store import PartitionStore

log = logging.getLogger(__name__)
FETCH_TIMEOUT_MS = 1000
STALLED_FETCHES = 10


@dataclass(slots=True)
class Restored:
    records: int
    seconds: float
    wiped: bool


async def restore_store(settings: Settings, store: PartitionStore, partition: int) -> Restored:
    started = time.perf_counter()
    tp = TopicPartition(changelog_topic(settings), partition)
    reader = changelog_reader(settings)
    await reader.start()
    try:
        reader.assign([tp])
        start = (await reader.beginning_offsets([tp]))[tp]
        end = (await reader.end_offsets([tp]))[tp]  # read_committed: the last stable offset
        position = store.changelog_next()
        wiped = False
        if position < start or position > end:
            if position:
                log.warning(
                    "partition %d: the local state (changelog offset %d) is outside the changelog (%d-%d); "
                    "restoring it from the changelog's start",
                    partition,
                    position,
                    start,
                    end,
                )
            store.wipe()
            position, wiped = start, True
        reader.seek(tp, position)
        records = 0
        stalled = 0
        while position < end:
            fetched = await reader.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS)
            batch = fetched.get(tp, [])
            now = await reader.position(tp)
            if batch or now != position:
                store.write(((r.key, r.value) for r in batch), now)
                records += len(batch)
                position, stalled = now, 0
                continue
            stalled += 1
            if stalled % STALLED_FETCHES == 0:  # e.g. the broker was away: ask where the end is now
                end = (await reader.end_offsets([tp]))[tp]
        return Restored(records, time.perf_counter() - started, wiped)
    finally:
        await reader.stop()
