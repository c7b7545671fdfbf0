"""``produce``: publish NDJSON lines as they are to Kafka, keyed by ``user_id``, routed by ``type``."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaProducer

from stream.kafka.admin import ensure_topics, reaching_broker
from stream.kafka.clients import connection
from stream.settings import Settings
from stream.tools.ndjson import iter_lines, routing_of

#: Deliveries awaited together: enough to keep batches full, few enough to bound memory.
IN_FLIGHT = 20_000


def topic_for(settings: Settings, forced: str | None, event_type: str | None) -> str:
    """The topic of a line: ``--topic``, else the topic of its type; a line without a known type
    goes to the first input topic, where the worker dead-letters it with its reason."""
    if forced:
        return forced
    return settings.topic_names.get(event_type or "", settings.consumed_topics[0])


async def produce_files(
    settings: Settings,
    paths: list[Path],
    *,
    topic: str | None = None,
    on_progress: Callable[[int], None] = lambda n: None,
) -> Counter[str]:
    """Send every non-blank line of the files in order; returns lines sent per topic."""
    targets = [topic] if topic else [*settings.topic_names.values(), settings.consumed_topics[0]]
    await ensure_topics(settings, targets)
    producer = AIOKafkaProducer(
        **connection(settings),
        enable_idempotence=True,  # retries neither duplicate nor reorder a user's events
        acks="all",
        linger_ms=20,
        max_batch_size=512 * 1024,
        max_request_size=max(1024 * 1024, settings.max_event_bytes * 4),
    )
    async with reaching_broker(settings):
        await producer.start()
    sent: Counter[str] = Counter()
    pending: list[asyncio.Future[object]] = []
    try:
        for path in paths:
            for _, line in iter_lines(path):
                key, event_type = routing_of(line)
                target = topic_for(settings, topic, event_type)
                pending.append(await producer.send(target, line, key=key))
                sent[target] += 1
                if len(pending) >= IN_FLIGHT:
                    await asyncio.gather(*pending)
                    on_progress(len(pending))
                    pending.clear()
        await asyncio.gather(*pending)
        on_progress(len(pending))
    finally:
        await producer.stop()
    return sent
