"""The worker's Kafka clients, built from the settings in one place: the group consumer of the
input topics, a partition's transactional producer, the changelog reader. ``connection`` is what
every Kafka client of sferum-kpi (the worker, ``produce``, the dead-letter tools, the topic set-up,
the bench and the fault tools) is given to reach the cluster: the bootstrap servers and the
security options (TLS, SASL)."""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.helpers import create_ssl_context

from stream.settings import ConfigError, Settings, load_settings

REQUEST_TIMEOUT_MS = 30_000
#: Records of the changelog are at most 256 KiB (``stream.state.codec``), dead letters at most
#: 512 KiB (``stream.kafka.deadletters``): a request must hold the largest of them.
MAX_REQUEST_BYTES = 2 * 1024 * 1024
BATCH_BYTES = 512 * 1024


def connection(settings: Settings, *, request_timeout_ms: int = REQUEST_TIMEOUT_MS) -> dict[str, Any]:
    """What every client needs to reach the cluster: keyword arguments of any aiokafka client."""
    return {
        "bootstrap_servers": settings.broker_bootstrap,
        "request_timeout_ms": request_timeout_ms,
        **security_options(settings),
    }


def connection_to(broker: str, *, request_timeout_ms: int = REQUEST_TIMEOUT_MS) -> dict[str, Any]:
    """``connection`` for the tools that are given only a broker address (the bench, the fault
    tools): the security settings are read from the environment (``SFERUM_KAFKA_*``), as the
    worker reads them."""
    return connection(load_settings(broker=broker), request_timeout_ms=request_timeout_ms)


def security_options(settings: Settings) -> dict[str, Any]:
    """aiokafka's security arguments: nothing for PLAINTEXT; a TLS context (CA, client certificate,
    hostname check) for SSL and SASL_SSL; the SASL mechanism and credentials for SASL_SSL."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol, "ssl_context": tls_context(settings)}
    if protocol == "SASL_SSL":
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": settings.kafka_password.get_secret_value(),
        }
    return options


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context of the Kafka clients; a file that cannot be used is a ``ConfigError``."""
    key_password = settings.kafka_key_password.get_secret_value()
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=settings.kafka_ca_file,
            certfile=settings.kafka_cert_file,
            keyfile=settings.kafka_key_file,
            # never None: OpenSSL would then ask for the key's passphrase on the terminal
            password=lambda: key_password,
        )
    except ssl.SSLError as exc:
        if settings.kafka_cert_file is not None:
            what = "the client certificate and key (SFERUM_KAFKA_CERT_FILE, SFERUM_KAFKA_KEY_FILE): not PEM, or the "
            what += "key's password (SFERUM_KAFKA_KEY_PASSWORD) is wrong or missing"
        else:
            what = "the CA file (SFERUM_KAFKA_CA_FILE): not PEM certificates"
        raise ConfigError(f"cannot load {what} ({exc.reason or 'SSL error'})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read a TLS file of the Kafka settings: {exc.strerror or exc}") from None
    context.check_hostname = settings.kafka_check_hostname
    return context


def changelog_topic(settings: Settings) -> str:
    return f"{settings.app_id}-state-changelog"


def input_consumer(
    settings: Settings, *, assignor: type[AbstractPartitionAssignor], listener: ConsumerRebalanceListener
) -> AIOKafkaConsumer:
    """The group member that reads the input topics. It never commits by itself: offsets go into
    each partition's transaction (``stream.kafka.checkpoint``). ``read_committed``: records of an
    aborted transaction of a producer upstream are not events."""
    consumer = AIOKafkaConsumer(
        **connection(settings),
        group_id=settings.app_id,
        group_instance_id=settings.instance_id or None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        partition_assignment_strategy=(assignor,),
        max_partition_fetch_bytes=1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
        max_poll_records=5_000,  # what one getmany hands over (stream.kafka.runner.FETCH_MAX_RECORDS)
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=int(settings.session_timeout_s * 1000 / 4),
        max_poll_interval_ms=300_000,
        rebalance_timeout_ms=120_000,
    )
    consumer.subscribe(list(settings.consumed_topics), listener=listener)
    return consumer


def partition_producer(settings: Settings, partition: int) -> AIOKafkaProducer:
    """The producer of one partition's changelog records, dead letters and input offsets, all in
    one transaction per checkpoint. Its transactional id is the partition's: the next owner of
    the partition starts one with the same id, which fences this one (its open transaction is
    aborted, its next send refused)."""
    return AIOKafkaProducer(
        **connection(settings),
        transactional_id=f"{settings.app_id}-state-{partition}",
        enable_idempotence=True,
        acks="all",
        linger_ms=int(settings.producer_linger_s * 1000),
        max_batch_size=BATCH_BYTES,
        max_request_size=MAX_REQUEST_BYTES,
        transaction_timeout_ms=int(settings.transaction_timeout_s * 1000),
    )


def changelog_reader(settings: Settings) -> AIOKafkaConsumer:
    """Reads a changelog partition at a restore: no group, committed transactions only."""
    return AIOKafkaConsumer(
        **connection(settings),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )


def tps(topics: Iterable[str], partition: int) -> list[TopicPartition]:
    return [TopicPartition(topic, partition) for topic in topics]


def fetch_state(consumer: AIOKafkaConsumer, tp: TopicPartition) -> tuple[int | None, int | None]:
    """The partition's position (the next offset the consumer will hand over) and its end as of
    the last fetch (the last stable offset, read_committed), without waiting: (None, None) when
    not known yet. aiokafka's ``position()`` waits for a position, and ``last_stable_offset()``
    asserts the partition is assigned; this reads the same fields of aiokafka's subscription
    state (aiokafka is pinned to the version this was written for)."""
    subscription = consumer._subscription.subscription
    if subscription is None or subscription.assignment is None:
        return None, None
    try:
        state = subscription.assignment.state_value(tp)
    except (KeyError, AssertionError):
        return None, None
    if state is None or not state.has_valid_position:
        return None, None
    end = state.lso if state.lso is not None and state.lso >= 0 else state.highwater
    return state.position, end
