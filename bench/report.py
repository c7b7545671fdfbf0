"""What a bench run found, and how it is printed: rich tables, then one final line for scripts."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from bench.data import BenchData
from bench.latency import LatencyResult

MIB = 1024 * 1024


@dataclass(frozen=True)
class Measure:
    """One measured way of processing the bench's events."""

    key: str  # W, L, Q, R, ...
    label: str
    events: int
    wall_s: float
    startup_s: float | None = None  # start to first event
    processing_s: float | None = None  # first event to last one consumed
    cpu_s: float | None = None
    peak_rss: int | None = None  # bytes
    note: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def processing_rate(self) -> float | None:
        return self.events / self.processing_s if self.processing_s else None


@dataclass(frozen=True)
class StoreCheck:
    """teacher_week FINAL of one store, reduced to what tells two runs apart."""

    key: str
    rows: int
    totals: tuple[int, ...]  # sums of group_chats_created, group_messages, chat_messages, calls, version
    matches_reference: bool


@dataclass(frozen=True)
class RssPerTeacherWeeks:
    peak_rss: int
    rss_at_first_event: int
    live_teacher_weeks: int  # teacher_week rows of the last two weeks (the weeks state holds)
    state_bytes: int = 0  # keys and values of every record of W's local stores
    state_users: int = 0  # users with a state record (teachers, staff, and anyone registered)

    @property
    def state_per_teacher_week(self) -> float:
        return self.state_bytes / self.live_teacher_weeks if self.live_teacher_weeks else math.nan

    @property
    def per_100k(self) -> float:
        return self.peak_rss / self.live_teacher_weeks * 100_000 if self.live_teacher_weeks else math.nan

    @property
    def growth_per_100k(self) -> float:
        grown = self.peak_rss - self.rss_at_first_event
        return grown / self.live_teacher_weeks * 100_000 if self.live_teacher_weeks else math.nan


@dataclass
class BenchReport:
    data: BenchData
    broker: str
    partitions: int
    measures: list[Measure] = field(default_factory=list)
    checks: list[StoreCheck] = field(default_factory=list)
    rss: RssPerTeacherWeeks | None = None
    latency: LatencyResult | None = None
    source: str = ""
    load_before: tuple[float, float, float] | None = None
    load_after: tuple[float, float, float] | None = None

    def rate(self, key: str) -> float:
        return next((m.rate for m in self.measures if m.key == key), 0.0)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "nan"


def final_line(rates: Mapping[str, float]) -> str:
    """``events_per_s W=<n> L=<n> Q=<n> R=<n> W/L=<r> W/Q=<r>``: whole rates, ratios to 2 decimals."""
    w, l_, q, r = (rates.get(k, 0.0) for k in ("W", "L", "Q", "R"))
    return f"events_per_s W={round(w)} L={round(l_)} Q={round(q)} R={round(r)} W/L={ratio(w, l_)} W/Q={ratio(w, q)}"


def _s(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _mib(value: int | None) -> str:
    return "" if not value else f"{value / MIB:.0f}"


def render(report: BenchReport, console: Console) -> None:
    data = report.data
    console.print(
        f"[bold]sferum-kpi bench[/bold]: {data.events:,} events (federal profile, scale {data.scale:.4f}, "
        f"steady weeks), {data.users:,} keys, busiest 1 % of keys send {data.top1pct_share:.0%} of them; "
        f"{data.teacher_events:,} teacher activity events of {data.teachers_active:,} teachers; "
        f"topic of {report.partitions} partitions on {report.broker}",
        highlight=False,
    )
    load = " → ".join(f"{x[0]:.1f}/{x[1]:.1f}/{x[2]:.1f}" for x in (report.load_before, report.load_after) if x)
    console.print(
        f"code: {report.source}; machine: {os.cpu_count()} cores, load average (1/5/15 min) {load}",
        highlight=False,
    )
    table = Table(title="throughput (same topic, same events; run one after another)")
    for name, justify in (
        ("", "left"),
        ("what", "left"),
        ("wall s", "right"),
        ("events/s (wall)", "right"),
        ("startup s", "right"),
        ("events/s (first→last)", "right"),
        ("CPU s", "right"),
        ("peak RSS MiB", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for m in report.measures:
        table.add_row(
            m.key,
            m.label,
            _s(m.wall_s),
            f"{m.rate:,.0f}",
            _s(m.startup_s),
            "" if m.processing_rate is None else f"{m.processing_rate:,.0f}",
            _s(m.cpu_s),
            _mib(m.peak_rss),
        )
    console.print(table)
    for m in report.measures:
        if m.note:
            console.print(f"  {m.key}: {m.note}", highlight=False)
    worker, replay = report.rate("W"), report.rate("R")
    if worker and replay:
        console.print(f"  W/R = {ratio(worker, replay)}: the worker against replay of the same file", highlight=False)
    if report.checks:
        checks = Table(title="teacher_week FINAL of each store (W is the reference)")
        for name in ("store", "rows", "Σ chats, group msgs, chat msgs, calls, version", "same rows as W"):
            checks.add_column(name)
        for c in report.checks:
            totals = ", ".join(f"{t:,}" for t in c.totals)
            checks.add_row(c.key, f"{c.rows:,}", totals, "yes" if c.matches_reference else "NO")
        console.print(checks)
    if report.rss is not None:
        rss = report.rss
        console.print(
            f"W memory: peak RSS {rss.peak_rss / MIB:.0f} MiB (at the first event {rss.rss_at_first_event / MIB:.0f}"
            f" MiB) for {rss.live_teacher_weeks:,} live teacher-weeks (rows of the last 2 weeks): "
            f"[bold]{rss.per_100k / MIB:,.0f} MiB per 100,000[/bold] "
            f"(growth after the first event: {rss.growth_per_100k / MIB:,.0f} MiB per 100,000). "
            "Peak = max of /proc VmHWM polled every 0.1 s and wait4's ru_maxrss.",
            highlight=False,
        )
        console.print(
            f"W state: {rss.state_bytes / MIB:,.1f} MiB of records for {rss.state_users:,} users "
            f"(everyone registered has one): [bold]{rss.state_per_teacher_week:,.0f} B per live teacher-week[/bold]",
            highlight=False,
        )
    if report.latency is not None:
        lat = report.latency
        console.print(
            f"latency produced → visible (W, running worker, defaults: 2 s checkpoints): "
            f"{lat.sent:,} events in {lat.seconds:.0f} s ({lat.achieved_rate:,.0f}/s, target {lat.rate_target:,}/s); "
            f"{lat.measured:,} of {lat.tracked:,} teacher activity events seen committed: "
            f"[bold]p50 {lat.p50_s:.2f} s, p90 {lat.p90_s:.2f} s, p99 {lat.p99_s:.2f} s[/bold], max {lat.max_s:.2f} s; "
            f"{lat.flushes_seen} commits seen; worker CPU {lat.worker_cpu_share:.0%} of one core. Method: the "
            "instant the group's committed offset passes the event (committed only after its rows are "
            "written), refined to the flush's own finish time from /metrics; an upper bound by a few ms "
            "(producer flush, commit) and at worst one 0.1 s poll.",
            highlight=False,
        )
