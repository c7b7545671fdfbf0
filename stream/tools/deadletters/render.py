"""The dead-letter commands in the terminal: tables with rich, a progress bar on stderr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from stream.tools.deadletters.redrive import RedriveReport
from stream.tools.deadletters.summary import Summary


def local_time(ms: int | None, zone: ZoneInfo) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S")


def render_summary(summary: Summary, console: Console, zone: ZoneInfo) -> None:
    window = summary.window
    title = f"{summary.topic}: {summary.letters} dead letters"
    if window.since_ms is not None:
        title += f", written at or after {local_time(window.since_ms, zone)}"
    if window.until_ms is not None:
        title += f", written before {local_time(window.until_ms, zone)}"
    console.print(title, markup=False, highlight=False)
    if not summary.letters:
        return
    console.print(
        f"dead-lettered from {local_time(summary.first_ms, zone)} to {local_time(summary.last_ms, zone)} ({zone.key})",
        markup=False,
        highlight=False,
    )
    counts = Table(show_lines=False)
    numbers = ("letters", "truncated", "redriven", "returned")
    for name in ("reason", *numbers, "source topics"):
        counts.add_column(name, justify="right" if name in numbers else "left")
    for reason in summary.reasons():
        by_topic = sorted(summary.by_reason_and_topic.items())
        topics = ", ".join(f"{topic or '(unknown)'} {n}" for (r, topic), n in by_topic if r == reason)
        counts.add_row(
            reason,
            str(summary.by_reason[reason]),
            str(summary.truncated[reason]),
            str(summary.redriven[reason]),
            str(summary.returned[reason]),
            topics,
        )
    console.print(counts)
    console.print("samples (ids masked):", markup=False, highlight=False)
    for reason in summary.reasons():
        for s in summary.samples.get(reason, []):
            source = f"{s.source_topic}/{s.source_partition}/{s.source_offset}" if s.source_topic else "(unknown)"
            size = f"{s.original_bytes} bytes" + (", cut" if s.truncated else "")
            lines = (
                f"  {reason}: letter {s.partition}/{s.offset} of {local_time(s.timestamp_ms, zone)}, "
                f"from {source}: {s.detail}",
                f"    {s.original} ({size})",
            )
            for line in lines:
                console.print(line, markup=False, highlight=False, soft_wrap=True)


def render_redrive(report: RedriveReport, console: Console, zone: ZoneInfo) -> None:
    data = report.as_dict()
    title = f"redrive of {report.selection.reason}" + (", again" if report.selection.again else "")
    table = Table(title=title + (" (dry run)" if report.dry_run else ""), show_header=False)
    table.add_column("what")
    table.add_column("letters", justify="right")
    window = report.selection.window
    if window.since_ms is not None:
        table.add_row("since", local_time(window.since_ms, zone))
    if window.until_ms is not None:
        table.add_row("until", local_time(window.until_ms, zone))
    for name in ("letters_read", "letters_matching", "would_send" if report.dry_run else "sent"):
        table.add_row(name.replace("_", " "), str(data[name]))
    for topic, n in sorted(report.sent.items()):
        table.add_row(f"  to {topic}", str(n))
    if report.selection.again:
        table.add_row("  of them, letters that came back after an earlier redrive", str(report.sent_again))
    for name in ("already_sent", "returned", "refused_truncated", "refused_no_source", "refused_not_input"):
        table.add_row(name.replace("_", " "), str(data[name]))
    if report.recovered_chunks:
        table.add_row("interrupted chunks recovered", str(report.recovered_chunks))
        table.add_row("  their messages that had landed", str(report.recovered_landed))
        table.add_row("  their messages sent now or later", str(report.recovered_not_landed))
    table.add_row("seconds", f"{report.seconds:.1f}")
    console.print(table)


@contextmanager
def progress_bar(
    label: str, console: Console, *, quiet: bool = False
) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(set the total, advance) of a bar on ``console`` (stderr), or of nothing when it is not a
    terminal or ``quiet``."""
    if quiet or not console.is_terminal:
        yield (lambda n: None), (lambda n: None)
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield (lambda n: progress.update(task, total=n)), (lambda n: progress.advance(task, n))
