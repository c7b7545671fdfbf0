"""The ``sferum-kpi`` command. Bad arguments and settings give one line on stderr and exit 2;
an unreachable broker or store gives one line and exit 1. Never a traceback for those."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from stream.logtag import tag_log_records
from stream.settings import ConfigError, Settings, load_settings
from stream.tools.deadletters.commands import dead_letters_app

if TYPE_CHECKING:
    from stream.tools.report import Report

app = typer.Typer(
    help="Weekly adoption indicators of «Сферум» from Kafka events to ClickHouse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(dead_letters_app, name="dead-letters")
err = Console(stderr=True)
out = Console()

BrokerOpt = Annotated[
    str | None, typer.Option("--broker", help="Kafka, host:port or kafka://host:port [SFERUM_BROKER].")
]
StoreOpt = Annotated[
    str | None, typer.Option("--store", help="ClickHouse DSN: chdb:///abs/path or http(s)://… [SFERUM_STORE].")
]
FilesArg = Annotated[list[Path], typer.Argument(help="NDJSON files, one event per line.", show_default=False)]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"sferum-kpi: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn the expected failures into one line and an exit code."""
    from sinks.clickhouse import QueryError, StoreError, first_line
    from stream.kafka.admin import BrokerUnavailable

    try:
        yield
    except ConfigError as exc:
        fail(str(exc), 2)
    except (StoreError, BrokerUnavailable, QueryError) as exc:
        fail(str(exc), 1)
    except OSError as exc:
        fail(first_line(exc), 1)


def settings_from(**overrides: Any) -> Settings:
    with clear_errors():
        return load_settings(**overrides)


def check_files(paths: list[Path]) -> None:
    for path in paths:
        if not path.exists() or path.is_dir():
            fail(f"no such file: {path}")


@app.callback()
def main_options(
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "warning",
    log_tag: Annotated[
        str | None, typer.Option("--log-tag", help="A tag at the start of every log message (letters, digits, . _ -).")
    ] = None,
) -> None:
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        fail(f"unknown log level {log_level!r}")
    if log_tag is not None:
        try:
            tag_log_records(log_tag)
        except ValueError as exc:
            fail(str(exc))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@app.command()
def worker(
    broker: BrokerOpt = None,
    store: StoreOpt = None,
    drain: Annotated[
        bool, typer.Option("--drain", help="Stop once the input present at start is consumed and flushed.")
    ] = False,
    web_port: Annotated[int | None, typer.Option("--web-port", help="Port of /metrics [SFERUM_WEB_PORT].")] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            help="Worker processes of the group on this host, each with the data dir DATA_DIR/worker-I, the web port "
            "WEB_PORT+I and the instance id ID-I; more than 1 needs a ClickHouse server [SFERUM_PROCESSES].",
        ),
    ] = None,
) -> None:
    """Run the stream worker: consume events, count per teacher and week, flush to ClickHouse."""
    settings = settings_from(broker=broker, store=store, web_port=web_port, processes=processes)
    loglevel = logging.getLogger().level
    if settings.processes > 1:
        import socket

        from stream.worker.supervisor import Supervisor, plan_children, worker_command

        with clear_errors():
            children = plan_children(settings, socket.gethostname())
        supervisor = Supervisor(children, worker_command(drain=drain, log_level=loglevel), drain=drain)
        raise typer.Exit(supervisor.run())

    from stream.worker.run import run_worker

    with clear_errors():
        code = run_worker(settings, drain=drain, loglevel=loglevel)
    raise typer.Exit(code)


@app.command()
def produce(
    files: FilesArg,
    broker: BrokerOpt = None,
    topic: Annotated[str | None, typer.Option("--topic", help="Send every line to this topic.")] = None,
) -> None:
    """Publish NDJSON lines as they are, keyed by user_id, to the topic of their type (or --topic)."""
    from stream.tools.ndjson import iter_lines
    from stream.tools.produce import produce_files

    settings = settings_from(broker=broker)
    check_files(files)
    total = sum(1 for path in files for _ in iter_lines(path))
    with clear_errors(), _progress("producing", total) as advance:
        sent = asyncio.run(produce_files(settings, files, topic=topic, on_progress=advance))
    for name, n in sorted(sent.items()):
        out.print(f"{n} lines → {name}", markup=False, highlight=False)


@app.command()
def repartition(
    partitions: Annotated[int, typer.Option("--partitions", help="Partitions of the new topics.", show_default=False)],
    suffix: Annotated[
        str, typer.Option("--suffix", help="The new topics are the input topics' names + SUFFIX, e.g. .p16.")
    ],
    broker: BrokerOpt = None,
) -> None:
    """Copy the input topics, as they are now, into new topics with PARTITIONS partitions (same keys,
    values, headers, timestamps; each user's events in order), exactly once; run it again to copy
    what came since. Then count them under a new SFERUM_APP_ID: docs/operations.md."""
    from stream.tools.repartition import copy_topics, plan_copy

    settings = settings_from(broker=broker)
    with clear_errors():
        plan = plan_copy(settings, partitions=partitions, suffix=suffix)
        with _progress("copying", 0) as advance:
            copied = asyncio.run(copy_topics(settings, plan, on_progress=advance))
    for source, target in plan.targets.items():
        out.print(f"{copied[source]} records {source} → {target}", markup=False, highlight=False)


@app.command()
def replay(
    files: FilesArg,
    store: StoreOpt = None,
    dead_letter: Annotated[
        Path, typer.Option("--dead-letter", help="Where rejected lines go, as NDJSON with reason and original bytes.")
    ] = Path("dead-letter.ndjson"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Process NDJSON files in order through the worker's core, without Kafka; write the same tables."""
    from sinks.clickhouse import ClickHouseSink
    from stream.tools.ndjson import iter_lines
    from stream.tools.replay import replay as run_replay

    settings = settings_from(store=store)
    check_files(files)
    total = sum(1 for path in files for _ in iter_lines(path))
    sink = ClickHouseSink(**settings.sink_options)
    with clear_errors(), dead_letter.open("wb") as letters, _progress("replaying", total, quiet=as_json) as advance:
        try:
            summary = run_replay(files, settings, sink, letters, on_progress=advance)
        finally:
            sink.close()
    report = summary.tally.as_dict() | {
        "blank_lines": summary.blank_lines,
        "rows_written": summary.rows_written,
        "seconds": round(summary.seconds, 3),
        "events_per_s": round(summary.tally.consumed / summary.seconds) if summary.seconds else None,
        "dead_letter_file": str(dead_letter),
    }
    if as_json:
        sys.stdout.write(orjson.dumps(report).decode() + "\n")
        return
    table = Table(title="replay", show_header=False)
    for name, value in report.items():
        if name == "rejected_by_reason":
            for reason, n in value.items():
                table.add_row(f"  rejected: {reason}", str(n))
        else:
            table.add_row(name, str(value))
    out.print(table)


@app.command("load-registry")
def load_registry_command(
    directory: Annotated[Path, typer.Argument(help="Directory with regions.csv, municipalities.csv, …")],
    store: StoreOpt = None,
) -> None:
    """Load the registry CSVs as a new snapshot, atomically (nothing is loaded if any check fails)."""
    from schemas.pseudonym import pseudonymizer
    from schemas.registry import RegistryError
    from sinks.clickhouse import ClickHouseSink
    from sinks.registry import load_registry

    settings = settings_from(store=store)
    if not directory.is_dir():
        fail(f"not a directory: {directory}")
    sink = ClickHouseSink(**settings.sink_options)
    with clear_errors():
        try:
            snapshot, counts = load_registry(sink, directory, pseudonym=pseudonymizer(settings.id_key_bytes))
        except RegistryError as exc:
            fail(str(exc), 2)
        finally:
            sink.close()
    rows = ", ".join(f"{n} {name.removesuffix('.csv')}" for name, n in counts.items())
    out.print(f"registry snapshot {snapshot} loaded: {rows}", markup=False, highlight=False)


@app.command("access-sql")
def access_sql(
    region: Annotated[
        list[str] | None, typer.Option("--region", help="Also the role and row policies of this region (repeatable).")
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", help="Grant the region's role to this existing ClickHouse user (one --region)."),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster", help="ON CLUSTER this cluster, local tables included (docs/cluster.md) [SFERUM_STORE_CLUSTER]."
        ),
    ] = None,
) -> None:
    """Print the SQL of the least-privilege roles, grants and per-region row policies, for a
    ClickHouse server (e.g. | clickhouse-client --multiquery); see docs/security.md."""
    from sinks.access import AccessError, base_statements, region_statements

    settings = settings_from()
    regions, accounts = region or [], account or []
    if accounts and len(regions) != 1:
        fail("--account needs exactly one --region")
    on = settings.store_cluster if cluster is None else cluster
    try:
        statements = base_statements(settings.database, on)
        for region_id in regions:
            statements += region_statements(settings.database, region_id, accounts, on)
    except AccessError as exc:
        fail(str(exc))
    sys.stdout.write("".join(f"{statement};\n" for statement in statements))


@app.command()
def schema(
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="The DDL for this ClickHouse cluster: ON CLUSTER, replicated and Distributed tables "
            "(docs/cluster.md) [SFERUM_STORE_CLUSTER]; empty: one server's.",
        ),
    ] = None,
) -> None:
    """Print the schema's DDL, every statement the worker and load-registry apply on start, each
    ending with ``;`` (e.g. to review it, or | clickhouse-client --multiquery)."""
    from sinks.clickhouse import schema_statements
    from sinks.cluster import ClusterDDLError

    settings = settings_from()
    levels = (settings.level_low, settings.level_high)
    try:
        statements = schema_statements(
            settings.database, settings.timezone, levels, settings.store_cluster if cluster is None else cluster
        )
    except ClusterDDLError as exc:
        fail(str(exc))
    sys.stdout.write("\n".join(f"{statement};\n" for statement in statements))


@app.command()
def generate(
    outdir: Annotated[Path, typer.Argument(help="Where to write registry/*.csv and events.ndjson (created).")],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="small: 3 regions, ~2,600 teachers, fast; orel: the seed's Орловская область, its figures exactly; "
            "federal: 85 regions, ~1.1 M teachers, for load tests.",
        ),
    ] = "small",
    weeks: Annotated[int, typer.Option("--weeks", help="Whole ISO weeks to generate (1 to 104).")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files, byte for byte.")] = 1,
    scale: Annotated[
        float, typer.Option("--scale", help="Size factor of small and federal (e.g. 0.05 for a quick federal run).")
    ] = 1.0,
    last_week: Annotated[
        str | None,
        typer.Option(
            "--last-week",
            help="A date (YYYY-MM-DD) in the last generated week; default: the last full week before today (Moscow).",
        ),
    ] = None,
) -> None:
    """Write a synthetic registry and event stream with a realistic rhythm: school days, weekends,
    lessons, holidays, heavy and light users. Events are in time order, valid, with unique ids."""
    from datetime import date

    from stream.tools.generate.calendar import generated_period
    from stream.tools.generate.run import PROFILES, check_scale, is_profile
    from stream.tools.generate.run import generate as run_generate

    if not is_profile(profile):
        fail(f"unknown profile {profile!r}: choose {', '.join(PROFILES)}")
    if not 1 <= weeks <= 104:
        fail(f"--weeks must be 1 to 104, not {weeks}")
    if seed < 0:
        fail("--seed must not be negative")
    if not 0 < scale <= 10:
        fail(f"--scale must be above 0 and at most 10, not {scale}")
    try:
        check_scale(profile, scale)
    except ValueError as exc:
        fail(str(exc))
    last = None
    if last_week is not None:
        try:
            last = date.fromisoformat(last_week)
        except ValueError:
            fail(f"--last-week {last_week!r} is not a date (YYYY-MM-DD)")
    try:
        period = generated_period(weeks, last)
    except ValueError as exc:
        fail(f"--last-week {last_week}: {exc}")
    if outdir.exists() and not outdir.is_dir():
        fail(f"not a directory: {outdir}")
    with clear_errors():
        summary = run_generate(profile, outdir, period=period, seed=seed, scale=scale, progress=_progress)
    registry = ", ".join(
        (f"{summary.teachers} teachers ({n} teacher-school rows)" if name == "teachers" else f"{n} {name}")
        for name, n in summary.registry_rows.items()
    )
    out.print(
        f"wrote {outdir}: {registry}; {summary.events} events ({summary.events_bytes / 1e6:.1f} MB), "
        f"{period.first_monday} to {period.day(period.n_days - 1)}, in {summary.seconds:.1f} s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One SQL statement.")],
    store: StoreOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="Any ClickHouse output format.")] = "PrettyCompact",
) -> None:
    """Run a query against the store and print the result in a ClickHouse format."""
    from sinks.clickhouse import ClickHouseSink

    settings = settings_from(store=store)
    sink = ClickHouseSink(**settings.sink_options)
    with clear_errors():
        try:
            result = sink.raw(query, fmt)
        finally:
            sink.close()
    sys.stdout.buffer.write(result)
    sys.stdout.flush()


REPORT_FORMATS = ("terminal", "html", "json", "pdf")


@app.command()
def report(
    store: StoreOpt = None,
    week: Annotated[
        str | None, typer.Option("--week", help="Any day of the week, YYYY-MM-DD. Default: the newest week with data.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="Region id of the registry. Default: the only region; else the federal view."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="terminal (default); html: one self-contained page; json: every figure and list "
            "(docs/report.md); pdf: the page printed by headless Chromium (A4), needs --output.",
        ),
    ] = "terminal",
    output: Annotated[
        Path | None, typer.Option("--output", help="Write html, json or pdf to this file (default: stdout).")
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Also write the report as one self-contained HTML page.")
    ] = None,
) -> None:
    """The weekly report of a region: indicators a–d, shares, trends, municipality levels and lists, ranking."""
    from datetime import date

    from sinks.clickhouse import ClickHouseSink
    from stream.tools.report import NoDataError, ReportArgumentError, load_report

    if fmt not in REPORT_FORMATS:
        fail(f"unknown --format {fmt!r}: choose {', '.join(REPORT_FORMATS)}")
    if fmt == "pdf" and output is None:
        fail("--format pdf needs --output FILE")
    if fmt == "terminal" and output is not None:
        fail("--output needs --format html, json or pdf")
    for path in (output, html_file):
        if path is not None and (path.is_dir() or not path.parent.is_dir()):
            fail(f"cannot write {path}: {'a directory' if path.is_dir() else 'no such directory'}")
    settings = settings_from(store=store)
    day = None
    if week is not None:
        try:
            day = date.fromisoformat(week)
        except ValueError:
            fail(f"--week must be a date YYYY-MM-DD, got {week!r}")
    sink = ClickHouseSink(**settings.sink_options)
    with clear_errors():
        try:
            loaded = load_report(
                sink,
                database=settings.database,
                week=day,
                region=region,
                levels=(settings.level_low, settings.level_high),
            )
        except ReportArgumentError as exc:
            fail(str(exc), 2)
        except NoDataError as exc:
            fail(str(exc), 1)
        finally:
            sink.close()
    notes = out if fmt == "terminal" else err  # stdout carries the document itself
    with clear_errors():
        _write_report(loaded, fmt, output, settings.chromium)
        if html_file is not None:
            from stream.tools.report.html import render_html

            html_file.write_text(render_html(loaded), encoding="utf-8")
            notes.print(f"\nHTML: {html_file}", markup=False, highlight=False)
    if output is not None:
        notes.print(f"{fmt.upper()}: {output}", markup=False, highlight=False)


def _write_report(loaded: Report, fmt: str, output: Path | None, chromium: str) -> None:
    """The report in ``fmt``, to ``output`` or stdout; a PDF that cannot be printed is one line, exit 1."""
    if fmt == "terminal":
        from stream.tools.report.terminal import render

        render(loaded, out)
        return
    if fmt == "json":
        from stream.tools.report.export import report_json

        data = report_json(loaded)
    else:
        from stream.tools.report.html import render_html

        page = render_html(loaded)
        if fmt == "pdf":
            from stream.tools.report.pdf import PdfError, find_chromium, print_pdf

            assert output is not None
            try:
                print_pdf(page, output, chromium=find_chromium(chromium))
            except PdfError as exc:
                fail(str(exc), 1)
            return
        data = page.encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


@contextmanager
def _progress(label: str, total: int, quiet: bool = False) -> Iterator[Callable[[int], None]]:
    if quiet or not err.is_terminal:
        yield lambda n: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def main() -> None:
    app()
