"""Kafka over TLS with authentication, on the test broker's secure listeners (deploy/local/kafka.sh
makes a CA and certificates and the SCRAM user at format time):

* ``produce``, ``worker --drain`` (its per-partition transactional producers included) and
  ``dead-letters summary`` over SASL_SSL with SCRAM-SHA-512 and the local CA give tables equal to
  the independent oracle, with the person ids pseudonymised (SFERUM_ID_KEY);
* SCRAM-SHA-256, PLAIN and SSL with a client certificate (its key encrypted) work as well;
* a wrong password, an untrusted CA, a plaintext client at a TLS listener and a TLS client without
  a certificate each end in one line on stderr and exit code 1, promptly;
* no password, key password or pseudonymisation key appears in anything those commands printed.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.eventgen import GenConfig, generate
from tests.support.oracle import Expected, expected
from tests.support.ports import free_port
from tests.support.pseudonyms import pseudonymised
from tests.support.readers import read_dead_letter_topic, read_staff_week, read_tables, reasons

pytestmark = pytest.mark.integration

ID_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0-security-test-key"
#: A failed first connection must be reported well before this (aiokafka alone would retry on).
PROMPT_S = 60.0


def secrets_of(env: dict[str, str]) -> list[str]:
    """Every secret a client of ``env`` holds: the values and the contents of the _FILE settings."""
    found = [
        env[name] for name in ("SFERUM_KAFKA_PASSWORD", "SFERUM_KAFKA_KEY_PASSWORD", "SFERUM_ID_KEY") if name in env
    ]
    for name, value in env.items():
        if name.endswith("PASSWORD_FILE") and value:
            found.append(Path(value).read_text(encoding="utf-8").strip())
    keystore = [Path(v).parent / "keystore.password" for n, v in env.items() if n.endswith("_FILE") and v]
    found += [p.read_text(encoding="utf-8").strip() for p in keystore if p.exists()]
    assert all(len(s) >= 8 for s in found)
    return found


def assert_no_secret(outputs: list[str], secrets: list[str]) -> None:
    for text in outputs:
        for secret in secrets:
            assert secret not in text, "a secret appears in the output"


def assert_one_line_exit_1(result: subprocess.CompletedProcess[str], seconds: float, expected_words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr[-3000:]
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("sferum-kpi: error: ") and expected_words in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert seconds < PROMPT_S


def timed_cli(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = run_cli(*args, env=env, timeout=PROMPT_S * 3)
    return result, time.monotonic() - started


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes], Expected]:
    lines = generate(GenConfig(events=20_000, weeks=6, seed=1313))
    path = tmp_path_factory.mktemp("security") / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, lines, expected(lines, now_ms=int(time.time() * 1000))


def app_env(base: Path, name: str) -> dict[str, str]:
    return {
        "SFERUM_APP_ID": name,
        "SFERUM_INPUT_TOPICS": f"{name}.events",
        "SFERUM_DEAD_LETTER_TOPIC": f"{name}.dead-letter",
        "SFERUM_DATA_DIR": str(base / "data"),
        "SFERUM_STORE": f"chdb://{base / 'store'}",
        "SFERUM_WEB_PORT": str(free_port()),
    }


def test_worker_drains_exactly_over_sasl_ssl_scram_sha_512(
    secure_broker: dict[str, dict[str, str]],
    broker: str,
    events: tuple[Path, list[bytes], Expected],
    tmp_path: Path,
    unique: str,
) -> None:
    path, lines, truth = events
    sasl = secure_broker["sasl_ssl"]
    assert sasl["SFERUM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512" and "SFERUM_KAFKA_PASSWORD_FILE" in sasl
    env = sasl | app_env(tmp_path, unique) | {"SFERUM_ID_KEY": ID_KEY}
    produced = run_cli("produce", "--topic", f"{unique}.events", str(path), env=env)
    assert produced.returncode == 0, produced.stderr[-3000:]
    drained = run_cli("--log-level", "info", "worker", "--drain", env=env, timeout=600)
    assert drained.returncode == 0, drained.stderr[-5000:]
    summary = run_cli("dead-letters", "summary", "--json", env=env)
    assert summary.returncode == 0, summary.stderr[-3000:]

    want = pseudonymised(truth, ID_KEY.encode())
    teacher_week, registrations = read_tables(env["SFERUM_STORE"])
    assert teacher_week == want.teacher_week
    assert registrations == want.registrations
    assert read_staff_week(env["SFERUM_STORE"]) == want.staff_week
    # the dead letters, read through the plaintext listener of the same broker
    letters = read_dead_letter_topic(broker, f"{unique}.dead-letter", expected=sum(truth.rejected.values()))
    assert reasons([(value, headers["reason"]) for value, headers in letters]) == truth.rejected
    assert json.loads(summary.stdout)["letters"] == sum(truth.rejected.values())
    outputs = [r.stdout + r.stderr for r in (produced, drained, summary)]
    assert_no_secret(outputs, secrets_of(env))


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "PLAIN"])
def test_produce_over_sasl_ssl_with_the_other_mechanisms(
    secure_broker: dict[str, dict[str, str]], broker: str, tmp_path: Path, unique: str, mechanism: str
) -> None:
    sasl = secure_broker["sasl_ssl"]
    password = Path(sasl["SFERUM_KAFKA_PASSWORD_FILE"]).read_text(encoding="utf-8").strip()
    env = {k: v for k, v in sasl.items() if k != "SFERUM_KAFKA_PASSWORD_FILE"} | app_env(tmp_path, unique)
    env |= {"SFERUM_KAFKA_SASL_MECHANISM": mechanism, "SFERUM_KAFKA_PASSWORD": password}
    path = tmp_path / "three.ndjson"
    path.write_bytes(b'{"type":"call","user_id":"t1"}\n{"type":"call","user_id":"t2"}\n{"not":"typed"}\n')
    produced = run_cli("produce", "--topic", f"{unique}.events", str(path), env=env)
    assert produced.returncode == 0, produced.stderr[-3000:]
    assert produced.stdout.strip() == f"3 lines → {unique}.events"
    assert_no_secret([produced.stdout + produced.stderr], [password])


def test_ssl_with_a_client_certificate_and_an_encrypted_key(
    secure_broker: dict[str, dict[str, str]],
    broker: str,
    events: tuple[Path, list[bytes], Expected],
    tmp_path: Path,
    unique: str,
) -> None:
    path, lines, _ = events
    env = secure_broker["ssl"] | app_env(tmp_path, unique)
    produced = run_cli("produce", "--topic", f"{unique}.events", str(path), env=env)
    assert produced.returncode == 0, produced.stderr[-3000:]
    assert produced.stdout.strip() == f"{len(lines)} lines → {unique}.events"
    assert_no_secret([produced.stdout + produced.stderr], secrets_of(env))


def test_wrong_password_is_one_line_and_exit_1(
    secure_broker: dict[str, dict[str, str]], tmp_path: Path, unique: str
) -> None:
    env = {k: v for k, v in secure_broker["sasl_ssl"].items() if k != "SFERUM_KAFKA_PASSWORD_FILE"}
    env |= app_env(tmp_path, unique) | {"SFERUM_KAFKA_PASSWORD": "not-the-password-7f3a"}
    for command in (["worker", "--drain"], ["worker"], ["produce", str(write_one(tmp_path))]):
        result, seconds = timed_cli(*command, env=env)
        assert_one_line_exit_1(result, seconds, "refused the credentials of user 'sferum' (SCRAM-SHA-512)")
        assert_no_secret([result.stdout + result.stderr], ["not-the-password-7f3a"])


def test_untrusted_ca_is_one_line_and_exit_1(
    secure_broker: dict[str, dict[str, str]], tmp_path: Path, unique: str
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "other-ca.key"),
         "-out", str(other_ca), "-days", "2", "-subj", "/CN=someone else's CA"],
        capture_output=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    env = secure_broker["sasl_ssl"] | app_env(tmp_path, unique) | {"SFERUM_KAFKA_CA_FILE": str(other_ca)}
    result, seconds = timed_cli("worker", "--drain", env=env)
    assert_one_line_exit_1(result, seconds, "is not trusted")
    assert_no_secret([result.stdout + result.stderr], secrets_of(env))


def test_plaintext_client_at_the_sasl_ssl_listener_is_one_line_and_exit_1(
    secure_broker: dict[str, dict[str, str]], tmp_path: Path, unique: str
) -> None:
    env = {"SFERUM_BROKER": secure_broker["sasl_ssl"]["SFERUM_BROKER"]} | app_env(tmp_path, unique)
    result, seconds = timed_cli("worker", "--drain", env=env)
    assert_one_line_exit_1(result, seconds, "closed the connection: the listener may need TLS")


def test_tls_client_without_a_certificate_at_the_ssl_listener_is_one_line_and_exit_1(
    secure_broker: dict[str, dict[str, str]], tmp_path: Path, unique: str
) -> None:
    ssl = secure_broker["ssl"]
    env = {k: ssl[k] for k in ("SFERUM_BROKER", "SFERUM_KAFKA_SECURITY_PROTOCOL", "SFERUM_KAFKA_CA_FILE")}
    result, seconds = timed_cli("worker", "--drain", env=env | app_env(tmp_path, unique))
    assert_one_line_exit_1(result, seconds, "may need a client certificate")


def test_wrong_key_password_is_a_configuration_error(
    secure_broker: dict[str, dict[str, str]], tmp_path: Path, unique: str
) -> None:
    env = {k: v for k, v in secure_broker["ssl"].items() if k != "SFERUM_KAFKA_KEY_PASSWORD_FILE"}
    env |= app_env(tmp_path, unique) | {"SFERUM_KAFKA_KEY_PASSWORD": "not-the-key-password"}
    result, seconds = timed_cli("worker", "--drain", env=env)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "SFERUM_KAFKA_KEY_PASSWORD" in result.stderr and seconds < PROMPT_S
    assert_no_secret([result.stdout + result.stderr], ["not-the-key-password"])


def write_one(tmp_path: Path) -> Path:
    path = tmp_path / "one.ndjson"
    path.write_bytes(b'{"type":"call","user_id":"t1"}\n')
    return path
