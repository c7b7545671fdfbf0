"""ClickHouse sink: schema, idempotent writes of pending rows, and queries. clickhouse-connect only.

The DSN selects the engine: ``chdb:///abs/path`` is the embedded ClickHouse (one process may
open a data directory at a time), ``http(s)://host:port`` a server, whose user and password come
with ``StoreCredentials`` (or, still accepted, in the DSN) and whose certificate is checked
against the system's CAs or the given CA file. No message of this module shows a password. The
client is synchronous; the worker calls it from one thread so the event loop keeps running.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from schemas.rows import PendingRows, week_date
from sinks.cluster import SESSION_SETTINGS, cluster_statements, partition_drop
from sinks.indicators import sql_placeholders
from sinks.sql_shared import shared_sql

TEACHER_WEEK_COLUMNS = (
    "week_start",
    "teacher_id",
    "group_chats_created",
    "group_messages",
    "chat_messages",
    "calls",
    "version",
)
REGISTRATION_COLUMNS = ("role", "user_id", "registered_by", "ts", "event_id")
_DB = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TZ = re.compile(r"^[A-Za-z0-9_+\-/]+$")


@dataclass(frozen=True)
class StoreCredentials:
    """How to log in to a ClickHouse server: its user and password, and the CA file of an https
    one. The password is left out of the repr."""

    user: str = ""
    password: str = field(default="", repr=False)
    ca_file: Path | None = None

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.user:
            options["username"] = self.user
        if self.password:
            options["password"] = self.password
        if self.ca_file is not None:
            options["ca_cert"] = str(self.ca_file)
        return options


class StoreError(RuntimeError):
    """The store could not be opened or written; retry later, nothing is lost."""


class QueryError(RuntimeError):
    """ClickHouse refused a query; the message is its own first line."""


def current_snapshot_sql(database: str) -> str:
    """The current registry snapshot, as a scalar subquery (0 when no registry is loaded yet)."""
    return f"(SELECT max(snapshot) FROM {database}.registry_snapshots)"


def schema_statements(
    database: str,
    timezone: str = "Europe/Moscow",
    levels: tuple[float, float] = (0.30, 0.70),
    cluster: str = "",
) -> list[str]:
    """DDL in order, from the ``sinks/sql`` files (statements end with ``;`` at a line end), for one
    database name (an identifier), with the SQL the refreshes share (``sinks.sql_shared``), the
    levels and the indicators' thresholds (``sinks.indicators``) in place of their placeholders;
    with ``cluster``, its form for that ClickHouse cluster (``sinks.cluster``, docs/cluster.md)."""
    if not _DB.match(database):
        raise ValueError(f"bad database name {database!r}")
    if not _TZ.match(timezone):
        raise ValueError(f"bad time zone {timezone!r}")
    files = sorted(
        (f for f in resources.files("sinks").joinpath("sql").iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    thresholds = sql_placeholders()
    shared = shared_sql()
    statements = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        for placeholder, sql in shared.items():  # first: they hold placeholders of the others
            text = text.replace(placeholder, sql)
        text = text.replace("{db}", database).replace("{tz}", timezone)
        text = text.replace("{current_snapshot}", current_snapshot_sql(database))
        text = text.replace("{level_low}", repr(float(levels[0]))).replace("{level_high}", repr(float(levels[1])))
        for placeholder, value in thresholds.items():
            text = text.replace(placeholder, value)
        statements += [s.strip() for s in re.split(r";\s*\n", text) if _has_sql(s)]
    return cluster_statements(statements, database, cluster) if cluster else statements


def _has_sql(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def open_client(
    dsn: str, credentials: StoreCredentials | None = None, settings: dict[str, Any] | None = None
) -> Client:
    """A clickhouse-connect client for a DSN, with these session settings; creates the directory of
    an embedded store."""
    parsed = urlparse(dsn)
    options = credentials.client_options() if credentials is not None else {}
    if settings:
        options["settings"] = dict(settings)
    if parsed.scheme == "https":
        # clickhouse-connect takes TLS from its interface or a port 443/8443, not from the DSN's
        # scheme: without this, https://host:9440 would be spoken to in plain HTTP
        options["interface"] = "https"
    try:
        if parsed.scheme == "chdb":
            Path(parsed.path).mkdir(parents=True, exist_ok=True)
        with _driver_warnings_held():
            return clickhouse_connect.get_client(dsn=dsn, **options)
    except Exception as exc:  # the driver raises several families; all mean "cannot open"
        secrets = [s for s in (parsed.password, credentials.password if credentials else "") if s]
        raise StoreError(f"cannot open the store {redact(dsn)}: {scrub(first_line(exc), secrets)}") from None


@contextlib.contextmanager
def _driver_warnings_held() -> Iterator[None]:
    """While connecting, the driver's and urllib3's warnings (a retry, a refused certificate) are
    held back: the ``StoreError`` raised on failure says the same in one line."""
    loggers = [logging.getLogger(name) for name in ("clickhouse_connect", "urllib3")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def redact(dsn: str) -> str:
    """The DSN without its password, for messages and logs."""
    parsed = urlparse(dsn)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
        return parsed._replace(netloc=netloc).geturl()
    return dsn


def scrub(text: str, secrets: Sequence[str]) -> str:
    """The text with every secret in it replaced (a driver may quote a URL or a header)."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class ClickHouseSink:
    """Owns one client. Not thread-safe: call it from one thread at a time."""

    def __init__(
        self,
        *,
        dsn: str,
        database: str,
        timezone: str = "Europe/Moscow",
        levels: tuple[float, float] = (0.30, 0.70),
        credentials: StoreCredentials | None = None,
        cluster: str = "",
    ) -> None:
        self.dsn = dsn
        #: the ClickHouse cluster the schema is on (docs/cluster.md); empty: one server
        self.cluster = cluster
        self.credentials = credentials
        self.database = database
        self.timezone = timezone
        self.levels = levels
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = open_client(self.dsn, self.credentials, SESSION_SETTINGS if self.cluster else None)
        return self._client

    def ensure_schema(self) -> None:
        for statement in schema_statements(self.database, self.timezone, self.levels, self.cluster):
            self.command(statement)

    def drop_partition(self, table: str, partition: int) -> None:
        """Drop a partition of one of the schema's tables (its local tables on a cluster)."""
        self.command(partition_drop(self.database, table, partition, self.cluster))

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        """Run a statement (DDL, ``INSERT … SELECT``); ``StoreError`` if the store fails or refuses it."""
        with self._store_errors("statement on"):
            result = self.client.command(sql, parameters=parameters)
        return result

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        """Insert rows into a table of the database; ``StoreError`` if the store fails or refuses them."""
        with self._store_errors("write to"):
            self.client.insert(f"{self.database}.{table}", rows, column_names=column_names)

    @contextlib.contextmanager
    def _store_errors(self, what: str) -> Iterator[None]:
        """A driver's error as a ``StoreError`` (the client is dropped: the next call reconnects)."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            self.reset()
            raise StoreError(f"{what} {redact(self.dsn)} failed: {self._message(exc)}") from exc

    def write(self, rows: PendingRows) -> int:
        """Insert pending rows. Idempotent: writing the same rows again changes nothing visible."""
        for table, week_rows, user_column in (
            ("teacher_week", rows.teacher_weeks, "teacher_id"),
            ("staff_week", rows.staff_weeks, "user_id"),
        ):
            if week_rows:
                self.insert(
                    table,
                    [
                        (
                            week_date(r.week_start),
                            r.teacher_id,
                            r.group_chats_created,
                            r.group_messages,
                            r.chat_messages,
                            r.calls,
                            r.version,
                        )
                        for r in week_rows.values()
                    ],
                    column_names=(TEACHER_WEEK_COLUMNS[0], user_column, *TEACHER_WEEK_COLUMNS[2:]),
                )
        if rows.registrations:
            self.insert(
                "registrations",
                [
                    (r.role, r.user_id, r.registered_by, datetime.fromtimestamp(r.ts / 1000, UTC), r.event_id)
                    for r in rows.registrations.values()
                ],
                column_names=REGISTRATION_COLUMNS,
            )
        return len(rows)

    def query_rows(self, sql: str, parameters: dict[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        client = self.client
        try:
            return client.query(sql, parameters=parameters).result_rows
        except Exception as exc:
            raise QueryError(self._message(exc)) from exc

    def raw(self, sql: str, fmt: str) -> bytes:
        """The result in any ClickHouse output format, as bytes."""
        client = self.client
        try:
            return client.raw_query(sql, fmt=fmt)
        except Exception as exc:
            raise QueryError(self._message(exc)) from exc

    def _message(self, exc: BaseException) -> str:
        """The first line of a driver's error, without the password."""
        secrets = [urlparse(self.dsn).password or "", self.credentials.password if self.credentials else ""]
        return scrub(first_line(exc), [s for s in secrets if s])

    def reset(self) -> None:
        """Drop the client so the next call reconnects (after a failure)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a broken client may fail to close; it is dropped anyway
                client.close()

    def close(self) -> None:
        self.reset()
