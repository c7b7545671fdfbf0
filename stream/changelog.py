"""The state table's changelog, written by the pipeline in record batches.

Faust writes a table's changelog one message per assignment: each goes into its producer buffer,
which a background task drains with one send per message. With one message per changed user and
batch that was the worker's slowest part, and a flush, which must wait for the broker's
acknowledgement of every one of them, waited seconds for the buffer to drain.

So the pipeline writes the state to the table's store itself (``table.data``) and collects the
changelog messages here; after each batch they are sent as one aiokafka record batch per changelog
partition (more when a batch fills). The topic, keys, values and partitions (the input message's
partition) are the ones Faust would have written, so Faust's recovery and standby replicas read
them as their own.

Durability: ``send`` keeps each batch's future; the pipeline's flush waits until the broker has
acknowledged every one before it commits the input offsets those messages cover. Once a batch is
acknowledged, the store's persisted changelog offset moves past it (as Faust does per message), so
a restart recovers only what came after.

At a rebalance the pipeline waits (``settle``) until every batch sent is acknowledged and its
offset recorded: the recovery that follows reads each partition's changelog from the recorded
offset, and a record it read from there while a newer one of the same key was still on its way
would set that key's state back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from faust.types import TP

log = logging.getLogger(__name__)


class ChangelogWriter:
    def __init__(self, table: Any, producer: Callable[[], Any]) -> None:
        self._table = table
        self._producer = producer  # the app's aiokafka producer, once started
        self._pending: dict[int, list[tuple[bytes, bytes]]] = {}
        self._sent: list[asyncio.Future[Any]] = []
        self._unacknowledged: set[asyncio.Future[Any]] = set()  # taken by a flush or not

    def add(self, partition: int, key: bytes, value: bytes) -> None:
        self._pending.setdefault(partition, []).append((key, value))

    async def send(self) -> None:
        """Hand what was added to the producer, in record batches."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        producer = self._producer()
        topic = self._table.changelog_topic.get_topic_name()
        for partition, messages in pending.items():
            batch, count = producer.create_batch(), 0
            for key, value in messages:
                if batch.append(key=key, value=value, timestamp=None) is None:  # full
                    await self._submit(producer, batch, TP(topic, partition), count)
                    batch, count = producer.create_batch(), 0
                    batch.append(key=key, value=value, timestamp=None)  # a first message always fits
                count += 1
            await self._submit(producer, batch, TP(topic, partition), count)

    async def _submit(self, producer: Any, batch: Any, tp: TP, count: int) -> None:
        try:
            future: asyncio.Future[Any] = await producer.send_batch(batch, tp.topic, partition=tp.partition)
        except Exception as exc:  # not sent: the flush that waits for it blocks the commits
            future = asyncio.get_running_loop().create_future()
            future.set_exception(exc)
            self._sent.append(future)
            return
        store = self._table.data

        def persisted(done: asyncio.Future[Any]) -> None:
            if done.cancelled() or done.exception() is not None:
                return  # the flush waiting for it sees the failure
            try:
                store.set_persisted_offset(tp, done.result().offset + count - 1)
            except Exception as exc:  # e.g. the partition was revoked meanwhile: recovery reads more
                log.debug("could not record the changelog offset of %s: %r", tp, exc)

        future.add_done_callback(persisted)
        future.add_done_callback(self._unacknowledged.discard)
        self._unacknowledged.add(future)
        self._sent.append(future)

    def take_sent(self) -> list[asyncio.Future[Any]]:
        """The batches sent since the last call; each resolves once the broker has it."""
        sent, self._sent = self._sent, []
        return sent

    async def settle(self, timeout: float) -> bool:
        """Wait until the broker has acknowledged (or refused) every batch sent so far and the
        acknowledged offsets are recorded; false if that took over ``timeout`` seconds. A
        refusal is left to the flush that takes its future."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._unacknowledged:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.wait(list(self._unacknowledged), timeout=left)
        return True
