"""``sferum-kpi dead-letters``: ``summary`` and ``redrive``, registered by ``stream.cli``.

Errors as in the rest of the CLI: one line ``sferum-kpi: error: …`` on stderr, exit 2 for bad
arguments and settings, 1 for an unreachable broker or a failure on its side. (This module does
not import ``stream.cli``, which imports it; the heavy modules load when a command runs.)"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from stream.settings import ConfigError, Settings, load_settings
from stream.tools.deadletters.times import TimeSpecError, Window, window_of

dead_letters_app = typer.Typer(
    help="Inspect the dead-letter topic, and send letters back to their source topics after a fix.",
    no_args_is_help=True,
)

BrokerOpt = Annotated[
    str | None, typer.Option("--broker", help="Kafka, host:port or kafka://host:port [SFERUM_BROKER].")
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Letters dead-lettered at or after: 2026-12-01, 2026-12-01T09:30 (SFERUM_TIMEZONE unless an offset "
        "is given), or a duration back from now (90m, 24h, 7d).",
    ),
]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Letters dead-lettered before; as --since.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
#: The largest chunk a redrive may be asked for: a chunk's progress record lists its messages.
MAX_CHUNK_LETTERS = 10_000


err = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"sferum-kpi: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        fail(str(exc), 2)


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Expected failures as one line and an exit code. Below ``--log-level info``, aiokafka's own
    error logs are held back: they repeat, with tracebacks, what that line says."""
    from aiokafka.errors import KafkaError

    from stream.kafka.admin import BrokerUnavailable
    from stream.tools.deadletters.ledger import LedgerError, RedriveFenced
    from stream.tools.deadletters.scan import MissingTopic

    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        yield
    except ConfigError as exc:
        fail(str(exc), 2)
    except (BrokerUnavailable, MissingTopic, LedgerError, RedriveFenced) as exc:
        fail(str(exc), 1)
    except KafkaError as exc:
        fail(f"Kafka: {exc or type(exc).__name__}; run the same command again (nothing is sent twice)", 1)
    except OSError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 1)
    except KeyboardInterrupt:
        fail("interrupted; run the same command again to go on (nothing is sent twice)", 130)


def _check_reason(reason: str | None, *, required: bool) -> None:
    from schemas.decode import REASONS

    if reason is None:
        if required:
            fail(f"--reason is required: one of {', '.join(REASONS)}")
        return
    if reason not in REASONS:
        fail(f"unknown --reason {reason!r}: one of {', '.join(REASONS)}")


def _window(since: str | None, until: str | None, zone: ZoneInfo) -> Window:
    try:
        return window_of(since, until, zone=zone, now=datetime.now(zone))
    except TimeSpecError as exc:
        fail(str(exc))


def _print_json(data: object) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(data).decode() + "\n")


@dead_letters_app.command()
def summary(
    broker: BrokerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only letters of this reason.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Counts by reason and source topic, the time range, and a few samples per reason with ids masked."""
    from stream.tools.deadletters.render import progress_bar, render_summary
    from stream.tools.deadletters.summary import summarize

    settings = _settings(broker=broker)
    zone = ZoneInfo(settings.timezone)
    _check_reason(reason, required=False)
    window = _window(since, until, zone)
    with _clear_errors(), progress_bar("reading dead letters", err, quiet=as_json) as (on_total, on_progress):
        # With SFERUM_ID_KEY, a sample shows an id as the start of its pseudonym in the store.
        result = asyncio.run(
            summarize(
                settings,
                window,
                reason=reason,
                id_key=settings.id_key_bytes,
                on_total=on_total,
                on_progress=on_progress,
            )
        )
    if as_json:
        _print_json(result.as_dict())
    else:
        render_summary(result, out, zone)


@dead_letters_app.command()
def redrive(
    reason: Annotated[str | None, typer.Option("--reason", help="The reason of the letters to send back.")] = None,
    broker: BrokerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    again: Annotated[
        bool,
        typer.Option(
            "--again",
            help="Also send letters that came back: messages an earlier redrive sent that were rejected again.",
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be sent; send nothing.")] = False,
    chunk: Annotated[
        int, typer.Option("--chunk", help="Letters per chunk (its progress is recorded after each).")
    ] = 500,
    as_json: JsonOpt = False,
) -> None:
    """Send the originals of one reason's letters back to their source topics, each at most once
    even across interrupted runs; refuse cut letters. See docs/deadletters.md before using it."""
    from stream.tools.deadletters.redrive import Selection
    from stream.tools.deadletters.redrive import redrive as run_redrive
    from stream.tools.deadletters.render import progress_bar, render_redrive

    settings = _settings(broker=broker)
    zone = ZoneInfo(settings.timezone)
    _check_reason(reason, required=True)
    if not 1 <= chunk <= MAX_CHUNK_LETTERS:
        fail(f"--chunk must be 1 to {MAX_CHUNK_LETTERS}, not {chunk}")
    selection = Selection(str(reason), _window(since, until, zone), again=again)
    with _clear_errors(), progress_bar("redriving", err, quiet=as_json) as (on_total, on_progress):
        report = asyncio.run(
            run_redrive(
                settings,
                selection,
                dry_run=dry_run,
                chunk_letters=chunk,
                on_total=on_total,
                on_progress=on_progress,
                notice=lambda text: err.print(text, markup=False, highlight=False),
            )
        )
    if as_json:
        _print_json(report.as_dict())
    else:
        render_redrive(report, out, zone)
