"""``worker``: run the Faust app; with ``drain``, stop once the input seen at start is committed."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import faust
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from stream.kafka.admin import BrokerUnavailable, committed_offsets, end_offsets, ensure_topics
from stream.kafka.clients import changelog_topic
from stream.settings import Settings
from stream.worker.app import build_app

log = logging.getLogger(__name__)
DRAIN_CHECK_INTERVAL_S = 1.0


async def prepare(settings: Settings) -> dict[TopicPartition, tuple[int, int]]:
    """Create missing topics (the changelog compacted); return the (beginning, end) offsets of the
    input now."""
    await ensure_topics(settings, [*settings.consumed_topics, settings.dead_letter_topic])
    await ensure_topics(settings, [changelog_topic(settings)], compacted=True)
    return await end_offsets(settings, settings.consumed_topics)


def drained(targets: dict[TopicPartition, tuple[int, int]], committed: dict[TopicPartition, int]) -> bool:
    """True when every partition is committed up to its end offset at start (or was empty)."""
    return all(end <= begin or committed.get(tp, -1) >= end for tp, (begin, end) in targets.items())


class _Worker(faust.Worker):
    """Faust's worker, with the log level kept as asked: given a name, mode's logging set-up leaves
    the root logger at DEBUG, and debug records of every Kafka request would cost much CPU."""

    def __init__(self, app: faust.App, *, level: int) -> None:
        super().__init__(app, loglevel=level, quiet=True, redirect_stdouts=False)
        self._level = level

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        logger.setLevel(self._level)


class _CoordinatorStarting(logging.Filter):
    """aiokafka logs at ERROR each time it asks for the group's coordinator and the broker has none
    yet (a new broker creating ``__consumer_offsets``, or one restarting); it retries by itself,
    and a group that never forms shows as no assigned partitions. Kept, at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and "GroupCoordinatorNotAvailableError" in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger().isEnabledFor(logging.INFO)  # handlers may pass any level
        return True


def run_worker(settings: Settings, *, drain: bool, loglevel: int = logging.WARNING) -> int:
    """Run until stopped (SIGINT/SIGTERM) or, with ``drain``, until drained. Returns the exit code."""
    logging.getLogger("aiokafka.consumer.group_coordinator").addFilter(_CoordinatorStarting())
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    targets = asyncio.run(prepare(settings))
    app, runner, store = build_app(settings)
    # The schema is created before the worker starts; the store is then used from one thread only.
    store.sink.ensure_schema()
    if drain:
        log.info("draining %d partitions up to %d messages", len(targets), sum(e - b for b, e in targets.values()))

        @app.timer(interval=DRAIN_CHECK_INTERVAL_S)  # type: ignore[untyped-decorator]  # Faust's App.timer returns a bare Callable
        async def check_drained() -> None:
            applied = runner.applied()
            mine = {tp: offsets for tp, offsets in targets.items() if tp in applied}
            if mine and drained(mine, applied):
                await runner.checkpoint()  # now, not at the next tick
            try:
                committed = await committed_offsets(settings, settings.app_id)
            except (BrokerUnavailable, KafkaError) as exc:  # a broker restart: ask again next time
                log.warning("drain check: %s", exc)
                return
            if drained(targets, committed):
                await runner.checkpoint()
                await store.refresh_kpi()
                log.info("drained: every input partition is committed up to its end offset at start")
                os.kill(os.getpid(), signal.SIGTERM)

    worker = _Worker(app, level=loglevel)
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        store.sink.close()
    return 1 if runner.failed is not None and code == 0 else code
