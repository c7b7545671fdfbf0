"""Configuration, read once into one frozen object and passed down.

Every setting has an environment variable ``SFERUM_<NAME>`` (see the README's table) and the
CLI flags override a few of them. Nothing else in the code reads the environment. A secret (a
password, a key) can also come from a file, ``SFERUM_<NAME>_FILE``, as container secrets are
mounted; it is held as a ``SecretStr``, which no repr, log line or error message shows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:  # the ClickHouse driver loads only when a sink is made
    from sinks.clickhouse import StoreCredentials

DEFAULT_TOPICS = {
    "chat_created": "sferum.chat-created",
    "message_sent": "sferum.message-sent",
    "call": "sferum.call",
    "registered": "sferum.registered",
}

#: Secrets that may be read from a file named by ``SFERUM_<NAME>_FILE`` instead.
SECRET_FILE_SETTINGS = ("kafka_password", "kafka_key_password", "store_password", "id_key")
#: The smallest pseudonymisation key, in bytes (``schemas.pseudonym``).
MIN_ID_KEY_BYTES = 32
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class SinkOptions(TypedDict):
    """Keyword arguments of ``sinks.clickhouse.ClickHouseSink``."""

    dsn: str
    database: str
    timezone: str
    levels: tuple[float, float]
    credentials: StoreCredentials
    cluster: str


class ConfigError(ValueError):
    """A bad setting or argument; the CLI prints it as one line and exits with code 2."""


def default_data_dir() -> Path:
    """Where the embedded store and the worker's local state live by default (XDG data dir)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sferum-kpi"


class Settings(BaseSettings):
    """All settings of sferum-kpi. Frozen: build a changed copy with ``model_copy(update=...)``."""

    model_config = SettingsConfigDict(env_prefix="SFERUM_", frozen=True, extra="forbid")

    # Kafka
    broker: str = "kafka://127.0.0.1:9092"
    app_id: str = "sferum-kpi"
    topic_chat_created: str = DEFAULT_TOPICS["chat_created"]
    topic_message_sent: str = DEFAULT_TOPICS["message_sent"]
    topic_call: str = DEFAULT_TOPICS["call"]
    topic_registered: str = DEFAULT_TOPICS["registered"]
    #: Topics the worker consumes. Empty means the four per-type topics above; one mixed topic works too.
    input_topics: Annotated[tuple[str, ...], NoDecode] = ()
    dead_letter_topic: str = "sferum.dead-letter"
    #: Partitions of the topics sferum-kpi creates; every input topic must have this many (co-partitioning).
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)

    # Kafka security (docs/security.md): every client of sferum-kpi takes these
    #: PLAINTEXT (no TLS, no authentication: a local broker only), SSL, or SASL_SSL.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: SecretStr = SecretStr("")
    kafka_password_file: Path | None = None
    #: CA certificates (PEM) the broker's certificate must chain to; default: the system's.
    kafka_ca_file: Path | None = None
    #: Client certificate (PEM) and its key, for brokers that require one (SSL listener).
    kafka_cert_file: Path | None = None
    kafka_key_file: Path | None = None
    kafka_key_password: SecretStr = SecretStr("")
    kafka_key_password_file: Path | None = None
    #: Whether the broker's certificate must name the host it is reached at.
    kafka_check_hostname: bool = True

    # ClickHouse
    store: str = ""
    database: str = "sferum"
    #: Credentials of a ClickHouse server, instead of in the DSN (which then holds none).
    store_user: str = ""
    store_password: SecretStr = SecretStr("")
    store_password_file: Path | None = None
    #: CA certificates (PEM) of an https store; default: the system's.
    store_ca_file: Path | None = None
    #: The ClickHouse cluster the schema is made on (ON CLUSTER, replicated and Distributed tables:
    #: docs/cluster.md); empty: one server.
    store_cluster: str = ""

    # Pseudonymisation of person ids (schemas/pseudonym.py): empty = ids stored as they come
    id_key: SecretStr = SecretStr("")
    id_key_file: Path | None = None

    # Local state of the worker (RocksDB per partition) and the embedded store
    data_dir: Path = Field(default_factory=default_data_dir)

    # Semantics
    timezone: str = "Europe/Moscow"
    allowed_lateness_s: int = Field(default=7 * 24 * 3600, ge=0)
    future_tolerance_s: int = Field(default=300, ge=0)
    max_event_bytes: int = Field(default=64 * 1024, ge=256)

    #: Events of one account in one week from which it is reported as hot (a metric and a warning;
    #: it is counted exactly all the same). 0: never.
    hot_user_events: int = Field(default=20_000, ge=0)

    # The worker's group, batches and checkpoints
    #: A stable id for this worker in the group (static membership: a restart within the session
    #: timeout moves no partition). Empty: a dynamic member.
    instance_id: str = ""
    #: Worker processes of the group that ``worker`` runs on this host (``stream.worker.supervisor``):
    #: each with its data dir ``<data_dir>/worker-<i>``, web port ``web_port + i`` and instance id
    #: ``<instance_id or host name>-<i>``. 1: the command is the worker itself.
    processes: int = Field(default=1, ge=1, le=1024)
    session_timeout_s: float = Field(default=10.0, ge=3, le=300)
    #: How long a partition's checkpoint transaction may stay open before the broker aborts it.
    transaction_timeout_s: float = Field(default=60.0, ge=5, le=900)
    #: How long a partition's records wait for an input topic whose next records are on the broker
    #: but not fetched yet (event-time alignment of the input topics). A topic with nothing more on
    #: the broker is never waited for; a fetch normally comes in milliseconds, and one that takes
    #: longer (a broker or a machine under strain) must not let another topic run ahead.
    align_idle_s: float = Field(default=30.0, ge=0, le=600)
    #: Records applied at once (all partitions together), between two turns of the event loop.
    batch_max_events: int = Field(default=2_000, ge=1)
    #: A checkpoint (rows to ClickHouse, then one Kafka transaction per partition) this often.
    flush_interval_s: float = Field(default=2.0, gt=0)
    flush_max_pending_events: int = Field(default=200_000, ge=1)
    flush_retry_initial_s: float = Field(default=0.5, gt=0)
    flush_retry_max_s: float = Field(default=30.0, gt=0)
    #: How long the Kafka producer (state changelog, dead letters) waits to fill a batch: one
    #: produce request per batch of a partition instead of one per few messages.
    producer_linger_s: float = Field(default=0.02, ge=0, le=1)
    #: How often the worker recomputes the stored indicators (kpi_unit_week) for changed weeks.
    kpi_refresh_interval_s: float = Field(default=30.0, gt=0)

    # Levels of a share: low below level_low, high above level_high, sufficient between
    level_low: float = Field(default=0.30, ge=0, le=1)
    level_high: float = Field(default=0.70, ge=0, le=1)

    # Report as PDF: the Chromium executable (a path or a name on the PATH); empty: the first of
    # chromium, chromium-browser, google-chrome found on the PATH
    chromium: str = ""

    # Worker web server (metrics)
    web_port: int = Field(default=6066, ge=1, le=65535)
    #: 127.0.0.1 on a workstation; 0.0.0.0 in a container, so Prometheus and probes reach it.
    web_bind: str = "127.0.0.1"
    web_enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """``SFERUM_<NAME>_FILE``: the secret is the file's content (a final newline dropped)."""
        if not isinstance(data, dict):
            return data
        for name in SECRET_FILE_SETTINGS:
            path = data.get(f"{name}_file")
            if path in (None, ""):
                continue
            env = f"SFERUM_{name.upper()}"
            given = data.get(name)
            if given not in (None, "") and not (isinstance(given, SecretStr) and not given.get_secret_value()):
                raise ValueError(f"set {env} or {env}_FILE, not both")
            data = {**data, name: _read_secret(Path(str(path)), f"{env}_FILE")}
        return data

    @field_validator("input_topics", mode="before")
    @classmethod
    def _split_topics(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return value

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        urls = []
        for part in value.split(";"):
            part = part.strip()
            if "://" not in part:
                part = "kafka://" + part
            parsed = urlparse(part)
            if parsed.username is not None or parsed.password is not None:
                raise ValueError(
                    "broker must not hold credentials: use SFERUM_KAFKA_USERNAME and SFERUM_KAFKA_PASSWORD"
                )
            if parsed.scheme != "kafka" or not parsed.hostname or parsed.port is None:
                raise ValueError(f"broker must look like host:port or kafka://host:port, got {value!r}")
            urls.append(part)
        return ";".join(urls)

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"database must be a plain identifier, got {value!r}")
        return value

    @field_validator("store_cluster")
    @classmethod
    def _check_store_cluster(cls, value: str) -> str:
        if value and not _IDENTIFIER.match(value):
            raise ValueError(f"the cluster must be a plain identifier, got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _check_topics_and_store(self) -> Settings:
        for name in (*self.topic_names.values(), *self.input_topics, self.dead_letter_topic):
            if not _TOPIC.match(name):
                raise ValueError(f"bad topic name {name!r}")
        if self.level_low > self.level_high:
            raise ValueError("level_low must not be above level_high")
        if self.dead_letter_topic in self.consumed_topics:
            raise ValueError("the dead-letter topic cannot also be an input topic")
        store = self.store_dsn
        scheme = urlparse(store).scheme
        if scheme == "chdb":
            parsed = urlparse(store)
            if parsed.netloc or not parsed.path.startswith("/"):
                raise ValueError(f"a chdb store needs an absolute path (chdb:///abs/path), got {store!r}")
        elif scheme not in ("http", "https"):
            raise ValueError(f"store must be chdb:///abs/path or http(s)://host:port, not {scheme or 'a URL'!r}")
        self._check_store_credentials(scheme)
        self._check_kafka_security()
        key = self.id_key.get_secret_value()
        if key and len(key.encode()) < MIN_ID_KEY_BYTES:
            raise ValueError(
                f"SFERUM_ID_KEY must have at least {MIN_ID_KEY_BYTES} bytes (e.g. openssl rand -hex 32), "
                f"it has {len(key.encode())}"
            )
        return self

    def _check_store_credentials(self, scheme: str) -> None:
        given = [name for name in ("store_user", "store_ca_file") if getattr(self, name)]
        if self.store_password.get_secret_value():
            given.append("store_password")
        if self.store_cluster:
            given.append("store_cluster")
        if scheme == "chdb" and given:
            raise ValueError(f"SFERUM_{given[0].upper()} applies to a ClickHouse server, not to the embedded store")
        if self.store_ca_file is not None and scheme != "https":
            raise ValueError("SFERUM_STORE_CA_FILE needs an https:// store")
        dsn = urlparse(self.store_dsn)
        if (dsn.username or dsn.password) and (self.store_user or self.store_password.get_secret_value()):
            raise ValueError(
                "give the store's user and password in SFERUM_STORE_USER/SFERUM_STORE_PASSWORD or in the DSN, not both"
            )
        _check_file(self.store_ca_file, "SFERUM_STORE_CA_FILE")

    def _check_kafka_security(self) -> None:
        protocol = self.kafka_security_protocol
        sasl = ["kafka_username"] if self.kafka_username else []
        if self.kafka_password.get_secret_value():
            sasl.append("kafka_password")
        tls = [n for n in ("kafka_ca_file", "kafka_cert_file", "kafka_key_file") if getattr(self, n) is not None]
        if self.kafka_key_password.get_secret_value():
            tls.append("kafka_key_password")
        if protocol == "PLAINTEXT" and (sasl or tls):
            raise ValueError(
                f"SFERUM_{(sasl + tls)[0].upper()} is set but SFERUM_KAFKA_SECURITY_PROTOCOL is PLAINTEXT: "
                "set it to SASL_SSL or SSL"
            )
        if protocol == "SASL_SSL" and len(sasl) < 2:
            raise ValueError("SASL_SSL needs SFERUM_KAFKA_USERNAME and SFERUM_KAFKA_PASSWORD (or _FILE)")
        if protocol == "SSL" and sasl:
            raise ValueError(f"SFERUM_{sasl[0].upper()} is for SASL_SSL; SSL authenticates with a client certificate")
        if self.kafka_key_file is not None and self.kafka_cert_file is None:
            raise ValueError("SFERUM_KAFKA_KEY_FILE needs SFERUM_KAFKA_CERT_FILE")
        if self.kafka_key_password.get_secret_value() and self.kafka_cert_file is None:
            raise ValueError("SFERUM_KAFKA_KEY_PASSWORD needs SFERUM_KAFKA_CERT_FILE")
        for name in ("kafka_ca_file", "kafka_cert_file", "kafka_key_file"):
            _check_file(getattr(self, name), f"SFERUM_{name.upper()}")

    # Derived values -----------------------------------------------------------------------------

    @property
    def topic_names(self) -> dict[str, str]:
        """Topic per event type, used to route produced events."""
        return {
            "chat_created": self.topic_chat_created,
            "message_sent": self.topic_message_sent,
            "call": self.topic_call,
            "registered": self.topic_registered,
        }

    @property
    def consumed_topics(self) -> tuple[str, ...]:
        return self.input_topics or tuple(dict.fromkeys(self.topic_names.values()))

    @property
    def store_dsn(self) -> str:
        return self.store or f"chdb://{(self.data_dir / 'chdb').resolve()}"

    @property
    def sink_options(self) -> SinkOptions:
        """Keyword arguments of ``sinks.clickhouse.ClickHouseSink``."""
        from sinks.clickhouse import StoreCredentials  # loads the ClickHouse driver: only when a sink is made

        return {
            "dsn": self.store_dsn,
            "database": self.database,
            "timezone": self.timezone,
            "levels": (self.level_low, self.level_high),
            "credentials": StoreCredentials(
                user=self.store_user, password=self.store_password.get_secret_value(), ca_file=self.store_ca_file
            ),
            "cluster": self.store_cluster,
        }

    @property
    def id_key_bytes(self) -> bytes | None:
        """The pseudonymisation key, or None: person ids are then stored as they come."""
        key = self.id_key.get_secret_value()
        return key.encode() if key else None

    @property
    def broker_bootstrap(self) -> str:
        """Comma-separated host:port list for plain Kafka clients."""
        return ",".join(urlparse(u).netloc for u in self.broker.split(";"))

    @property
    def allowed_lateness_ms(self) -> int:
        return self.allowed_lateness_s * 1000

    @property
    def future_tolerance_ms(self) -> int:
        return self.future_tolerance_s * 1000


def _read_secret(path: Path, env: str) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {env} {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        text = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise ValueError(f"{env} {path} is not UTF-8 text") from None
    if not text:
        raise ValueError(f"{env} {path} is empty")
    return text


def _check_file(path: Path | None, env: str) -> None:
    if path is not None and not path.is_file():
        raise ValueError(f"{env}: no such file {path}")


def load_settings(**overrides: object) -> Settings:
    """Read the environment once, apply CLI overrides (None means "not given"), validate."""
    given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}  # pydantic checks each value
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        field = ".".join(str(p) for p in first.get("loc", ()))
        if field:
            raise ConfigError(f"invalid {field} (SFERUM_{field.upper()}): {message}") from None
        raise ConfigError(f"invalid settings: {message}") from None
