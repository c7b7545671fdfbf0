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

The pipeline applies only the messages still current when it is about to apply them
(``stream.transport.current_messages``), with either delivery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from faust.transport.consumer import CONSUMER_FETCHING
from faust.types import Message


class BulkSink(Protocol):
    #: The topics whose messages go to ``deliver``; the others go to Faust's conductor.
    topics: frozenset[str]

    async def deliver(self, messages: Sequence[Message]) -> None: ...


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
                batch = await self._take_fetch(fetched, sink.topics)
                consumer.diag.unset_flag(CONSUMER_FETCHING)
                if batch:
                    await sink.deliver(batch)
        except consumer.consumer_stopped_errors:
            if not consumer.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not consumer.transport.app.should_stop:
                raise
        finally:
            consumer.diag.unset_flag(CONSUMER_FETCHING)

    async def _take_fetch(self, fetched: Any, topics: frozenset[str]) -> list[Message]:
        """The fetch's messages of ``topics``, in order per partition; a message before the
        partition's read offset (already read before a seek back) is skipped, as Faust does.
        Each message carries the group generation it was read in."""
        consumer: Any = self
        read_offset = consumer._read_offset
        batch: list[Message] = []
        async for tp, message in fetched:
            last = read_offset[tp]
            if last is not None and message.offset < last:
                continue
            read_offset[tp] = message.offset
            if tp.topic in topics:
                batch.append(message)
            else:
                await consumer.wait_first(consumer.callback(message), consumer.suspend_flow.wait())
        return batch
