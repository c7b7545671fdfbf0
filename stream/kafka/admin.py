"""Topic creation and offset look-ups with aiokafka: the worker's set-up and ``--drain``'s check;
and ``reaching_broker``, which turns a first connection that fails (unreachable, refused
credentials, an untrusted certificate, a listener of another protocol) into one line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from stream.kafka.clients import connection
from stream.settings import ConfigError, Settings

REQUEST_TIMEOUT_MS = 15_000
#: How long the size of a topic just created may take to show in the broker's metadata.
METADATA_WAIT_S = 15.0
_TLS_REASON = re.compile(r"certificate verify failed: ([^(]+)")


class BrokerUnavailable(RuntimeError):
    """The broker did not answer, or refused this client; the message names it and says why."""


class _LastError(logging.Handler):
    """Keeps the last error aiokafka logged while connecting: the reason its exception lacks."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.text = ""

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        kinds = [type(arg).__name__ for arg in args if isinstance(arg, BaseException)]
        self.text = " ".join([record.getMessage(), *kinds])


@contextlib.asynccontextmanager
async def reaching_broker(settings: Settings) -> AsyncIterator[None]:
    """Turn a failed bootstrap into ``BrokerUnavailable``; aiokafka's own error log is held back,
    since the message raised here says the same in one line."""
    log = logging.getLogger("aiokafka")
    level, propagate = log.level, log.propagate
    last = _LastError()
    log.setLevel(logging.ERROR)
    log.propagate = False
    log.addHandler(last)
    try:
        yield
    except KafkaConnectionError:
        raise BrokerUnavailable(why_unreachable(settings, last.text)) from None
    finally:
        log.removeHandler(last)
        log.setLevel(level)
        log.propagate = propagate


def why_unreachable(settings: Settings, logged: str) -> str:
    """One line for a bootstrap that failed, from what aiokafka logged about it. It names the
    settings to check; it never repeats a password (aiokafka's messages hold none either)."""
    where = f"the Kafka broker at {settings.broker_bootstrap}"
    protocol = settings.kafka_security_protocol
    if "SaslAuthenticationFailed" in logged or "Authentication failed" in logged:
        return (
            f"{where} refused the credentials of user {settings.kafka_username!r} ({settings.kafka_sasl_mechanism}): "
            "check SFERUM_KAFKA_USERNAME and SFERUM_KAFKA_PASSWORD"
        )
    if "UnsupportedSaslMechanism" in logged:
        return f"{where} does not offer SASL mechanism {settings.kafka_sasl_mechanism} (SFERUM_KAFKA_SASL_MECHANISM)"
    if "CERTIFICATE_VERIFY_FAILED" in logged:
        found = _TLS_REASON.search(logged)
        reason = found.group(1).strip() if found else "certificate verify failed"
        if "mismatch" in reason:
            return f"the TLS certificate of {where} is not valid for that address ({reason}): check SFERUM_BROKER"
        return f"the TLS certificate of {where} is not trusted ({reason}): check SFERUM_KAFKA_CA_FILE"
    if "WRONG_VERSION_NUMBER" in logged or "record layer failure" in logged:
        return f"{where} does not speak TLS there: check SFERUM_KAFKA_SECURITY_PROTOCOL ({protocol}) and the port"
    if "closed" in logged or "reset" in logged.lower():
        if protocol == "PLAINTEXT":
            return (
                f"{where} closed the connection: the listener may need TLS "
                "(SFERUM_KAFKA_SECURITY_PROTOCOL=SASL_SSL or SSL)"
            )
        if protocol == "SSL":
            return (
                f"{where} closed the connection after TLS: the listener may need a client certificate "
                "(SFERUM_KAFKA_CERT_FILE) or SASL (SFERUM_KAFKA_SECURITY_PROTOCOL=SASL_SSL)"
            )
        return f"{where} closed the connection: check SFERUM_KAFKA_SECURITY_PROTOCOL ({protocol}) and the port"
    return f"cannot reach {where}"


async def _start_admin(settings: Settings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**connection(settings, request_timeout_ms=REQUEST_TIMEOUT_MS))
    try:
        async with reaching_broker(settings):
            await admin.start()
    except BaseException:
        await admin.close()  # a failed start leaves its connections open
        raise
    return admin


#: The state changelog keeps the newest record of each key (a user's state, or a chunk of its ids).
COMPACTED = {"cleanup.policy": "compact"}


async def ensure_topics(settings: Settings, topics: Iterable[str], *, compacted: bool = False) -> None:
    """Create missing topics with ``settings.partitions``; refuse input topics (and compacted ones:
    the state changelog, read partition by partition) of another size, since per-user state needs
    every input topic partitioned alike (co-partitioning).

    Which topics exist is asked without naming them: a broker with ``auto.create.topics.enable``
    (Kafka's default) creates a topic that a metadata request names, with its own
    ``num.partitions``, and the creation here then fails as "already exists"
    (tests/integration/test_topic_setup.py). Whatever created a topic, its size is checked once it
    exists."""
    admin = await _start_admin(settings)
    try:
        wanted = list(dict.fromkeys(topics))
        present = set(await admin.list_topics())
        missing = [t for t in wanted if t not in present]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker created it meanwhile
                await admin.create_topics(
                    [
                        NewTopic(
                            t,
                            settings.partitions,
                            settings.replication_factor,
                            topic_configs=COMPACTED if compacted else {},
                        )
                        for t in missing
                    ]
                )
        checked = [t for t in wanted if t in settings.consumed_topics or compacted]
        for topic, count in (await _partition_counts(admin, checked)).items():
            if count != settings.partitions:
                raise ConfigError(
                    f"topic {topic} has {count} partitions but SFERUM_PARTITIONS is {settings.partitions}; "
                    "all input topics must have the same number of partitions"
                )
    finally:
        await admin.close()


async def _partition_counts(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int]:
    """Partitions of each topic, all of which exist: asked again while the metadata of a topic just
    created has not reached the broker yet (for at most ``METADATA_WAIT_S``)."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + METADATA_WAIT_S
    while True:
        for item in await admin.describe_topics([t for t in topics if t not in counts]):
            if item.get("error_code", 0) == 0 and item.get("partitions"):
                counts[item["topic"]] = len(item["partitions"])
        if len(counts) == len(topics) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.2)


async def end_offsets(settings: Settings, topics: Iterable[str]) -> dict[TopicPartition, tuple[int, int]]:
    """(beginning, end) offsets of every partition of the topics, now."""
    admin = await _start_admin(settings)
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    tps = [
        TopicPartition(item["topic"], p["partition"])
        for item in described
        if item.get("error_code", 0) == 0
        for p in item.get("partitions", ())
    ]
    consumer = AIOKafkaConsumer(**connection(settings, request_timeout_ms=REQUEST_TIMEOUT_MS))
    async with reaching_broker(settings):
        await consumer.start()
    try:
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        return {tp: (begin[tp], end[tp]) for tp in sorted(tps)}
    finally:
        await consumer.stop()


async def committed_offsets(settings: Settings, group: str) -> dict[TopicPartition, int]:
    admin = await _start_admin(settings)
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    except KafkaError:
        return {}
    finally:
        await admin.close()
