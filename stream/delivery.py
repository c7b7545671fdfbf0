"""Input messages in bulk: each fetch of the input topics goes to the pipeline as one batch.

Faust hands every fetched message, one at a time, to the conductor, a channel queue, the agent's
stream and ``take_events``' buffer: a few tasks, queue hops and awaits per message. On this
machine a Faust agent that does nothing with its messages reads 6,500 to 7,800 events/s, a
twentieth of what aiokafka fetches and decodes (bench ``L``); the worker could never be faster.

So the consumer's fetch loop delivers the input topics' messages of one fetch together, to a
:class:`BulkSink` (the pipeline). Everything else stays Faust's: the group and its rebalances,
the seeks back to the committed offsets after them (``stream.transport``), the recovery of the
table from its changelog, the table and its store, the producer, the timers. Messages of other
topics (none, in this app) go to Faust's conductor as before.

A batch is applied only if the fetch is still current when the pipeline is about to apply it:
flow active, same group generation, consumer not stopping. Otherwise it is dropped unapplied,
as Faust drops the messages it fetched before a rebalance; the seek to the committed offsets
that follows every rebalance reads them again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from faust.transport.consumer import CONSUMER_FETCHING
from faust.types import Message


class BulkSink(Protocol):
    #: The topics whose messages go to ``deliver``; the others go to Faust's conductor.
    topics: frozenset[str]

    async def deliver(self, messages: Sequence[Message], is_current: Callable[[], bool]) -> None: ...


class BulkDelivery:
    """Mixed into the consumer: its fetch loop, when the app has a bulk sink."""

    async def _drain_messages(self, fetcher: Any) -> None:
        consumer: Any = self
        sink: BulkSink | None = getattr(consumer.app, "bulk_sink", None)
        if sink is None:
            await super()._drain_messages(fetcher)  # type: ignore[misc]
            return
        try:
            while not (consumer._stopped.is_set() or fetcher._stopped.is_set()):
                consumer.diag.set_flag(CONSUMER_FETCHING)
                fetched = consumer.getmany(timeout=1.0)
                await consumer.sleep(0)
                if consumer.should_stop:
                    break
                batch, generation = await self._take_fetch(fetched, sink.topics)
                consumer.diag.unset_flag(CONSUMER_FETCHING)
                if batch:
                    await sink.deliver(batch, self._is_current_for(generation))
        except consumer.consumer_stopped_errors:
            if not consumer.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not consumer.transport.app.should_stop:
                raise
        finally:
            consumer.diag.unset_flag(CONSUMER_FETCHING)

    async def _take_fetch(self, fetched: Any, topics: frozenset[str]) -> tuple[list[Message], int]:
        """The fetch's messages of ``topics``, in order per partition, and the group generation
        they were fetched in; a message before the partition's read offset (already read before
        a seek back) is skipped, as Faust does.

        The generation is read at the first message, not before the fetch: ``getmany`` waits for
        the records first, and a rebalance that completes meanwhile (with its seek back) yields
        records of the new generation. Judged against the old one they were dropped as stale,
        while the consumer had already moved past them: lost (the rebalance fault test lost a
        few dozen rows this way)."""
        consumer: Any = self
        read_offset = consumer._read_offset
        batch: list[Message] = []
        generation = -1
        async for tp, message in fetched:
            if generation == -1:
                generation = consumer.app.consumer_generation_id  # getmany's own, no await since

            last = read_offset[tp]
            if last is not None and message.offset < last:
                continue
            read_offset[tp] = message.offset
            if tp.topic in topics:
                batch.append(message)
            else:
                await consumer.wait_first(consumer.callback(message), consumer.suspend_flow.wait())
        return batch, generation

    def _is_current_for(self, generation: int) -> Callable[[], bool]:
        consumer: Any = self

        def is_current() -> bool:
            return bool(
                consumer.flow_active
                and not consumer.suspend_flow.is_set()
                and consumer.app.consumer_generation_id == generation
                and not consumer.should_stop
            )

        return is_current
