"""Shared fixtures. Integration tests need the real local broker: the ``broker`` fixture starts it
with ``deploy/local/kafka.sh`` (the script CI and the README use) when it is not running, and a
broker that cannot be started is a failure, never a skip."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaClient

from tests.support.paths import CLI as CLI
from tests.support.paths import KAFKA_SH
from tests.support.paths import ROOT as ROOT
from tests.support.paths import run_cli as run_cli
from tests.support.ports import port_open

TEST_KAFKA_PORT = int(os.environ.get("SFERUM_TEST_KAFKA_PORT", "19092"))
#: The test broker's secure listeners (deploy/local/kafka.sh): SASL_SSL and SSL with client certificates.
TEST_KAFKA_SASL_SSL_PORT = int(os.environ.get("SFERUM_TEST_KAFKA_SASL_SSL_PORT", str(TEST_KAFKA_PORT + 2)))
TEST_KAFKA_SSL_PORT = int(os.environ.get("SFERUM_TEST_KAFKA_SSL_PORT", str(TEST_KAFKA_PORT + 3)))


def _is_kafka(address: str) -> bool:
    """Whether a Kafka broker answers a metadata request there (not merely something listening)."""

    async def ask() -> bool:
        client = AIOKafkaClient(bootstrap_servers=address, request_timeout_ms=5000, metadata_max_age_ms=5000)
        try:
            await asyncio.wait_for(client.bootstrap(), 15)
            return bool(client.cluster.brokers())
        except Exception:
            return False
        finally:
            await client.close()

    return asyncio.run(ask())


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """host:port of a running Kafka broker (started here if needed, stopped if started here). A port
    taken by something that is not a Kafka broker is a failure, not a broker."""
    env = os.environ | kafka_sh_env()
    address = f"127.0.0.1:{TEST_KAFKA_PORT}"
    started = False
    if not port_open("127.0.0.1", TEST_KAFKA_PORT):
        result = subprocess.run(["bash", str(KAFKA_SH), "start"], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"could not start the local Kafka broker:\n{result.stderr[-3000:]}", pytrace=False)
        started = True
    if not _is_kafka(address):
        pytest.fail(f"{address} is taken by something that does not answer as a Kafka broker", pytrace=False)
    yield address
    if started:
        subprocess.run(["bash", str(KAFKA_SH), "stop"], env=env, capture_output=True)


def kafka_sh_env() -> dict[str, str]:
    """deploy/local/kafka.sh's settings for the test broker, its secure listeners included."""
    return {
        "SFERUM_KAFKA_PORT": str(TEST_KAFKA_PORT),
        "SFERUM_KAFKA_SASL_SSL_PORT": str(TEST_KAFKA_SASL_SSL_PORT),
        "SFERUM_KAFKA_SSL_PORT": str(TEST_KAFKA_SSL_PORT),
    }


def _client_env(kind: str) -> dict[str, str]:
    result = subprocess.run(
        ["bash", str(KAFKA_SH), "client-env", kind],
        env=os.environ | {"SFERUM_KAFKA_PORT": str(TEST_KAFKA_PORT)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            f"the test broker has no {kind} listener ({result.stderr.strip()}): start it with deploy/local/test.sh, "
            "or deploy/local/kafka.sh start --fresh with SFERUM_KAFKA_SASL_SSL_PORT and SFERUM_KAFKA_SSL_PORT",
            pytrace=False,
        )
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


@pytest.fixture(scope="session")
def secure_broker(broker: str) -> dict[str, dict[str, str]]:
    """The SFERUM_* client settings of the test broker's secure listeners, by kind: ``sasl_ssl``
    (SCRAM-SHA-512, password from a file, the local CA) and ``ssl`` (client certificate with an
    encrypted key). A broker without them is a failure, not a skip."""
    envs = {kind: _client_env(kind) for kind in ("sasl_ssl", "ssl")}
    for kind, env in envs.items():
        host, port = env["SFERUM_BROKER"].rsplit(":", 1)
        if not port_open(host, int(port)):
            pytest.fail(f"the test broker's {kind} listener {env['SFERUM_BROKER']} does not answer", pytrace=False)
    return envs


#: The seed each fault scenario ran with in this session, printed at its end.
_FAULT_SEEDS: dict[str, int] = {}


def fault_seed(scenario: str) -> int:
    """A random seed for a fault scenario (``SFERUM_FAULT_SEED`` fixes it), remembered for the
    session's summary: a failure in CI can be run again with its seed."""
    fixed = os.environ.get("SFERUM_FAULT_SEED")
    seed = int(fixed) if fixed else random.randrange(1, 1_000_000)
    _FAULT_SEEDS[scenario] = seed
    return seed


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FAULT_SEEDS:
        seeds = " ".join(f"{name}={seed}" for name, seed in _FAULT_SEEDS.items())
        terminalreporter.write_line(f"fault scenario seeds: {seeds} (SFERUM_FAULT_SEED=N runs one again)")


@pytest.fixture
def unique() -> str:
    """A fresh name for this test's topics, consumer group and app."""
    return f"t{uuid.uuid4().hex[:10]}"
