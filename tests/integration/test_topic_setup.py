"""The topics sferum-kpi makes get ``SFERUM_PARTITIONS`` partitions on a broker that creates
missing topics by itself (``auto.create.topics.enable``, Kafka's default, on in the local broker
with ``num.partitions=4``), and a topic of another size is refused."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from stream.kafka_admin import ensure_topics
from stream.settings import ConfigError, load_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


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
