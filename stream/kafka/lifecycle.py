"""A partition task's start and end.

Start, in this order (each step relies on the one before):

1. the input partitions are paused: nothing of them is applied before step 5;
2. the partition's transactional producer starts: the broker fences any former owner's producer
   and completes or aborts its open transaction, so the changelog and the committed offsets
   stop moving under us;
3. the local store catches up with the changelog (``stream.kafka.restore``);
4. the committed offsets are read (stable now, after step 2), and the input partitions sought to
   them (to their log's start where nothing was committed yet);
5. the task runs and its input partitions resume.

A rebalance during a start cancels it; the next assignment starts again (the store keeps what was
restored).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from pathlib import Path

from aiokafka import TopicPartition

from sinks.clickhouse import first_line
from stream.core.batch import Decoded
from stream.kafka.align import Merge
from stream.kafka.clients import tps
from stream.kafka.ports import InputConsumer, Kafka
from stream.kafka.task import PartitionTask
from stream.settings import Settings
from stream.state.store import PartitionStore
from stream.state.users import PartitionUsers
from stream.worker.kpi_gauges import RegionKpiGauges
from stream.worker.metrics import Metrics

log = logging.getLogger(__name__)
#: After a failed start (the broker away, say), the next try waits this long.
RETRY_START_S = 2.0
#: Users decoded between two yields to the event loop while the gauges are rebuilt.
GAUGE_USERS_PER_YIELD = 2_000


def state_dir(settings: Settings, partition: int) -> Path:
    return settings.data_dir / "state" / settings.app_id / f"partition-{partition}"


class TaskStarter:
    def __init__(
        self,
        settings: Settings,
        consumer: InputConsumer,
        kafka: Kafka,
        *,
        gauges: RegionKpiGauges,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.kafka = kafka
        self.gauges = gauges
        self.metrics = metrics

    def new_task(self, number: int) -> PartitionTask:
        """Step 1, and the start of the rest in the background."""
        inputs = tps(self.settings.consumed_topics, number)
        self.consumer.pause(*inputs)
        gauges = self.gauges
        users = PartitionUsers(
            PartitionStore(state_dir(self.settings, number)),
            on_change=lambda user_id, state: gauges.update(user_id, state, number),
        )
        merge: Merge[TopicPartition, Decoded] = Merge(
            inputs,
            idle_s=self.settings.align_idle_s,
            on_hold=self.metrics.align_holds.inc,
            on_held=self.metrics.align_held_seconds.inc,
        )
        task = PartitionTask(number, inputs, users, merge)
        task.restoring = asyncio.create_task(self._start(task), name=f"start-partition-{number}")
        return task

    async def _start(self, task: PartitionTask) -> None:
        while True:
            try:
                await self._start_once(task)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("partition %d: starting failed, retrying: %s", task.number, first_line(exc))
                await self._stop_producer(task)
                await asyncio.sleep(RETRY_START_S)

    async def _start_once(self, task: PartitionTask) -> None:
        number = task.number
        producer = self.kafka.partition_producer(number)
        task.producer = producer
        await producer.start()  # step 2
        restored = await self.kafka.restore(task.store, number)  # step 3
        self.metrics.restore_seconds.observe(restored.seconds)
        self.metrics.restored_records.inc(restored.records)
        await self._load_gauges(task)
        for tp in task.tps:  # step 4
            committed = await self.consumer.committed(tp)
            if committed is None:
                await self.consumer.seek_to_beginning(tp)
                offset = await self.consumer.position(tp)
            else:
                offset = committed
                self.consumer.seek(tp, offset)
            task.next_offset[tp.topic] = task.committed[tp.topic] = offset
            task.fetched_next[tp] = offset
        task.running = True  # step 5
        self.consumer.resume(*task.tps)
        log.info(
            "partition %d: started (%d changelog records restored in %.2f s%s)",
            number,
            restored.records,
            restored.seconds,
            ", the local state rebuilt" if restored.wiped else "",
        )

    async def _load_gauges(self, task: PartitionTask) -> None:
        users = []
        for index, item in enumerate(task.users.stored_users()):
            users.append(item)
            if index % GAUGE_USERS_PER_YIELD == GAUGE_USERS_PER_YIELD - 1:
                await asyncio.sleep(0)
        self.gauges.load(task.number, users)

    async def close_task(self, task: PartitionTask) -> None:
        task.running = False
        if task.restoring is not None and not task.restoring.done():
            task.restoring.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task.restoring
        task.merge.clear()
        self.gauges.forget(task.number)
        await self._stop_producer(task)
        task.store.close()

    @staticmethod
    async def _stop_producer(task: PartitionTask) -> None:
        producer, task.producer = task.producer, None
        if producer is not None:
            with suppress(Exception):
                await asyncio.wait_for(producer.stop(), 15)
