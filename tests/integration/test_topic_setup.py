"""The worker's topic set-up (``stream.kafka.admin.ensure_topics``) on a broker that creates topics
by itself (``auto.create.topics.enable``, Kafka's default) with its own ``num.partitions``: the
local broker has 4, and the topics here want 16.

Regression: four workers starting at once over 16 input partitions (the scale-out scenario,
``tests/tools/scale_out.py``) got a state changelog of 4 partitions. Asking the broker
whether the changelog existed had made the broker create it with its default; the worker's own
creation then failed as "already exists" and was ignored; three workers refused to start, and the
fourth waited forever for changelog partitions 4-15.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from stream.kafka.admin import ensure_topics
from stream.settings import ConfigError, load_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 16


async def _sizes(broker: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        present = set(await admin.list_topics())  # never names a topic: creates none
        described = await admin.describe_topics([t for t in topics if t in present])
    finally:
        await admin.close()
    return {item["topic"]: len(item["partitions"]) for item in described}


async def _broker_defaults(broker: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        node = admin._client.cluster.brokers().pop().nodeId
        response = await admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(node))])
    finally:
        await admin.close()
    entries = response[0].resources[0][4]
    return {name: value for name, value, *_ in entries}


def test_the_broker_auto_creates_topics_with_another_partition_count(broker: str) -> None:
    """The premise of the tests below."""
    defaults = asyncio.run(_broker_defaults(broker))
    assert defaults["auto.create.topics.enable"] == "true"
    assert int(defaults["num.partitions"]) != PARTITIONS


def test_workers_starting_at_once_make_every_topic_with_the_partitions_asked(broker: str, unique: str) -> None:
    settings = load_settings(
        broker=broker,
        app_id=unique,
        input_topics=f"{unique}.events",
        dead_letter_topic=f"{unique}.dead-letter",
        partitions=PARTITIONS,
    )
    inputs = [f"{unique}.events", f"{unique}.dead-letter"]
    changelog = f"{unique}-state-changelog"

    async def one_worker() -> None:  # what stream.worker.run.prepare does
        await ensure_topics(settings, inputs)
        await ensure_topics(settings, [changelog], compacted=True)

    async def four_workers() -> None:
        await asyncio.gather(*(one_worker() for _ in range(4)))

    asyncio.run(four_workers())
    assert asyncio.run(_sizes(broker, [*inputs, changelog])) == {t: PARTITIONS for t in [*inputs, changelog]}
    asyncio.run(one_worker())  # a restart finds them as they are


def test_a_changelog_made_with_another_partition_count_is_refused(broker: str, unique: str) -> None:
    changelog = f"{unique}-state-changelog"

    async def make() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(changelog, 4, 1)])
        finally:
            await admin.close()

    asyncio.run(make())
    settings = load_settings(broker=broker, app_id=unique, input_topics=f"{unique}.events", partitions=PARTITIONS)
    with pytest.raises(ConfigError, match=f"topic {changelog} has 4 partitions but SFERUM_PARTITIONS is 16"):
        asyncio.run(ensure_topics(settings, [changelog], compacted=True))


def _partitions(broker: str, topics: list[str]) -> dict[str, int]:
    async def ask() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker)
        await admin.start()
        try:
            return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(topics)}
        finally:
            await admin.close()

    return asyncio.run(ask())


def test_new_topics_get_the_partitions_setting_not_the_brokers_default(broker: str, unique: str) -> None:
    settings = load_settings(broker=broker, partitions=16, input_topics=f"{unique}.a,{unique}.b")
    asyncio.run(ensure_topics(settings, [f"{unique}.a", f"{unique}.b", f"{unique}.dl"]))
    assert _partitions(broker, [f"{unique}.a", f"{unique}.b", f"{unique}.dl"]) == {
        f"{unique}.a": 16,
        f"{unique}.b": 16,
        f"{unique}.dl": 16,
    }


def test_an_input_topic_of_another_size_is_refused(broker: str, unique: str) -> None:
    # a metadata request of aiokafka's admin makes the broker create it, with its num.partitions
    wait_until(
        "auto-creation",
        lambda: _partitions(broker, [f"{unique}.a"]),
        lambda got: got == {f"{unique}.a": 4},
        timeout_s=30,
    )
    settings = load_settings(broker=broker, partitions=16, input_topics=f"{unique}.a")
    with pytest.raises(ConfigError, match="has 4 partitions but SFERUM_PARTITIONS is 16"):
        asyncio.run(ensure_topics(settings, [f"{unique}.a"]))
