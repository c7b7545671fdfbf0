"""Faust's Kafka transport with one fix: after a rebalance every input partition is read again
from its committed offset, including a partition that has no commit yet.

At a rebalance Faust drops the messages it has fetched but not yet handed to the agent, and
messages of the old generation that are still in the stream's buffer. It relies on a seek back
to the committed offsets afterwards. aiokafka's ``seek_to_committed`` seeks only when the
committed offset is above zero, so a partition that had no commit yet (or a commit at 0) went
on from where the fetcher stood, past the dropped messages: about one message in 10^4 to 10^6
was lost under load. Here such a partition is sought to its beginning (the worker resets to
``earliest``) or to 0; the messages read again are duplicates for the state, which knows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from faust.types import TP

from stream.delivery import BulkDelivery


class ExactConsumerThread(AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[TP, int]:
        result: Mapping[TP, int] = await self.call_thread(self._seek_to_committed)
        return result

    async def _seek_to_committed(self) -> Mapping[TP, int]:
        consumer = self._ensure_consumer()
        committed: Mapping[Any, int | None] = await consumer.seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        never = []
        for tp, offset in committed.items():
            if tp.topic in changelogs or offset:  # Faust's recovery / aiokafka have sought these
                continue
            if offset is None:
                never.append(tp)
            else:
                consumer.seek(tp, 0)
        if never:
            await consumer.seek_to_beginning(*never)
        return committed  # type: ignore[return-value]


class ExactConsumer(BulkDelivery, Consumer):  # type: ignore[misc]
    """Seeks back after rebalances (above) and delivers input messages in bulk (``stream.delivery``)."""

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ExactConsumerThread(self, loop=self.loop, beacon=self.beacon)


class ExactTransport(Transport):
    Consumer = ExactConsumer
