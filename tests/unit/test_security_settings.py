"""Security settings: secrets from the environment or from files, never shown; refused
combinations; the Kafka clients' options; one-line reasons for a failed first connection."""

from __future__ import annotations

import hashlib
import hmac
import ssl
from pathlib import Path

import pytest

from schemas.decode import Event, Rejection, decode
from schemas.pseudonym import pseudonymizer
from sinks.clickhouse import StoreCredentials, open_client
from stream.kafka.admin import why_unreachable
from stream.kafka.clients import connection, security_options
from stream.settings import ConfigError, Settings, load_settings

PASSWORD = "s3cret-password-value"
KEY = "k" * 40
NOW_MS = 1_760_000_000_000


def sasl(**more: object) -> Settings:
    return load_settings(kafka_security_protocol="SASL_SSL", kafka_username="sferum", kafka_password=PASSWORD, **more)


def test_secrets_are_not_in_the_repr_of_the_settings(tmp_path: Path) -> None:
    settings = sasl(store="https://clickhouse.example:8443", store_password=PASSWORD, id_key=KEY)
    assert PASSWORD not in repr(settings) and KEY not in repr(settings) and PASSWORD not in str(settings)
    assert settings.kafka_password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(settings.sink_options["credentials"])


def test_a_secret_comes_from_its_file_without_the_final_newline(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
    (tmp_path / "key").write_text(KEY + "\n", encoding="utf-8")
    settings = load_settings(
        kafka_security_protocol="SASL_SSL",
        kafka_username="sferum",
        kafka_password_file=tmp_path / "pw",
        id_key_file=tmp_path / "key",
    )
    assert settings.kafka_password.get_secret_value() == PASSWORD
    assert settings.id_key_bytes == KEY.encode()


def test_a_secret_file_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text(PASSWORD, encoding="utf-8")
    monkeypatch.setenv("SFERUM_STORE", "https://clickhouse.example:8443")
    monkeypatch.setenv("SFERUM_STORE_PASSWORD_FILE", str(tmp_path / "pw"))
    assert load_settings().store_password.get_secret_value() == PASSWORD


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"kafka_password": "x", "kafka_password_file": "/etc/hostname"}, "set SFERUM_KAFKA_PASSWORD or"),
        ({"id_key_file": "/nonexistent/key"}, "cannot read SFERUM_ID_KEY_FILE /nonexistent/key"),
        ({"id_key": "short"}, "SFERUM_ID_KEY must have at least 32 bytes"),
        ({"kafka_username": "sferum"}, "SFERUM_KAFKA_USERNAME is set but SFERUM_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_username": "u"}, "SASL_SSL needs SFERUM_KAFKA_USERNAME"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "kafka_security_protocol"),
        ({"kafka_security_protocol": "SSL", "kafka_username": "u"}, "is for SASL_SSL"),
        ({"kafka_security_protocol": "SSL", "kafka_key_file": "/etc/hostname"}, "needs SFERUM_KAFKA_CERT_FILE"),
        ({"kafka_security_protocol": "SSL", "kafka_ca_file": "/nonexistent.pem"}, "SFERUM_KAFKA_CA_FILE: no such"),
        ({"broker": "kafka://user:pw@host:9092"}, "broker must not hold credentials"),
        ({"store_user": "u"}, "applies to a ClickHouse server, not to the embedded store"),
        ({"store": "http://ch:8123", "store_ca_file": "/etc/hostname"}, "SFERUM_STORE_CA_FILE needs an https://"),
        ({"store": "https://u:pw@ch:8443", "store_password": "x"}, "or in the DSN, not both"),
    ],
)
def test_refused_settings_say_why_in_one_line(given: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("*", r"\*")) as raised:
        load_settings(**given)
    text = str(raised.value)
    assert "\n" not in text and "pw" not in text.replace("SFERUM_KAFKA_PASSWORD", "")


def test_plaintext_clients_get_no_security_options() -> None:
    options = connection(load_settings(broker="127.0.0.1:9092"))
    assert options == {"bootstrap_servers": "127.0.0.1:9092", "request_timeout_ms": 30_000}


def test_sasl_ssl_clients_get_the_mechanism_credentials_and_a_checking_tls_context() -> None:
    options = security_options(sasl(kafka_sasl_mechanism="SCRAM-SHA-256"))
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-256", "sferum")
    assert options["sasl_plain_password"] == PASSWORD
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_the_hostname_check_can_be_turned_off() -> None:
    assert not security_options(sasl(kafka_check_hostname=False))["ssl_context"].check_hostname


def test_an_unusable_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot load the CA file"):
        security_options(sasl(kafka_ca_file=tmp_path / "ca.pem"))


@pytest.mark.parametrize(
    ("logged", "words"),
    [
        (
            'Unable connect to "h:1": [Error 58] SaslAuthenticationFailed: Authentication failed',
            "refused the credentials of user 'sferum' (SCRAM-SHA-512)",
        ),
        (
            'Unable connect to "h:1": [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: '
            "self-signed certificate in certificate chain (_ssl.c:1006)",
            "is not trusted (self-signed certificate in certificate chain): check SFERUM_KAFKA_CA_FILE",
        ),
        (
            'Unable connect to "h:1": [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: '
            "IP address mismatch, certificate is not valid for '10.0.0.1'. (_ssl.c:1006)",
            "is not valid for that address",
        ),
        ('Unable connect to "h:1":  ConnectionResetError', "closed the connection: check"),
        ('Unable connect to "h:1": [Errno 111] Connect call failed  ConnectionRefusedError', "cannot reach"),
    ],
)
def test_a_failed_first_connection_is_named(logged: str, words: str) -> None:
    message = why_unreachable(sasl(), logged)
    assert words in message and PASSWORD not in message and "\n" not in message


def test_a_plaintext_client_at_a_tls_listener_is_told_to_use_tls() -> None:
    message = why_unreachable(load_settings(), 'Unable connect to "h:1": KafkaConnectionError: Connection closed')
    assert "SFERUM_KAFKA_SECURITY_PROTOCOL=SASL_SSL or SSL" in message


def test_a_store_that_refuses_names_no_password() -> None:
    credentials = StoreCredentials(user="sferum_worker", password=PASSWORD)
    assert PASSWORD not in repr(credentials)
    with pytest.raises(Exception) as raised:  # noqa: B017 - StoreError; nothing listens on port 9
        open_client(f"http://u:{PASSWORD}x@127.0.0.1:9", credentials)
    assert PASSWORD not in str(raised.value) and "***" in str(raised.value)


# pseudonymised decoding ----------------------------------------------------------------------


def line(user_id: str, role: str, etype: str = "message_sent") -> bytes:
    extra = '"registered_by":"self"' if etype == "registered" else '"chat_id":"c","chat_kind":"group"'
    return (
        f'{{"schema_version":1,"type":"{etype}","event_id":"e1","ts":{NOW_MS - 1000},'
        f'"user_id":"{user_id}","role":"{role}",{extra}}}'
    ).encode()


def by_hand(user_id: str) -> str:
    return hmac.new(KEY.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:32]


@pytest.mark.parametrize("role", ["teacher", "student", "parent", "staff"])
def test_a_persons_id_is_replaced_by_its_hmac(role: str) -> None:
    event = decode(line("t-1", role), now_ms=NOW_MS, pseudonym=pseudonymizer(KEY.encode()))
    assert isinstance(event, Event) and event.user_id == by_hand("t-1")


@pytest.mark.parametrize("role", ["school", "municipality"])
def test_an_organisations_id_stays_as_it_is(role: str) -> None:
    event = decode(line("sch-1", role, "registered"), now_ms=NOW_MS, pseudonym=pseudonymizer(KEY.encode()))
    assert isinstance(event, Event) and event.user_id == "sch-1"


def test_the_kafka_key_is_checked_against_the_raw_id_then_the_id_is_replaced() -> None:
    pseudonym = pseudonymizer(KEY.encode())
    event = decode(
        line("учитель-1", "teacher"), now_ms=NOW_MS, key="учитель-1".encode(), check_key=True, pseudonym=pseudonym
    )
    assert isinstance(event, Event) and event.user_id == by_hand("учитель-1")
    wrong = decode(
        line("t-1", "teacher"), now_ms=NOW_MS, key=by_hand("t-1").encode(), check_key=True, pseudonym=pseudonym
    )
    assert isinstance(wrong, Rejection) and wrong.reason == "key_mismatch" and "t-1" not in wrong.detail


def test_without_a_key_ids_pass_through() -> None:
    assert pseudonymizer(None) is None and pseudonymizer(b"") is None
    event = decode(line("t-1", "teacher"), now_ms=NOW_MS, pseudonym=None)
    assert isinstance(event, Event) and event.user_id == "t-1"


def test_the_memo_gives_the_same_pseudonym_after_it_is_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    import schemas.pseudonym as module

    monkeypatch.setattr(module, "MEMO_IDS", 3)
    pseudonymizer.cache_clear()
    try:
        pseudonym = pseudonymizer(KEY.encode())
        assert pseudonym is not None
        ids = [f"t{i}" for i in range(10)] * 2
        assert [pseudonym(i) for i in ids] == [by_hand(i) for i in ids]
    finally:
        pseudonymizer.cache_clear()
