"""The benchmark harness (``bench/``) without a broker: its pure parts, so a refactoring of the
product that breaks them is caught here and not at the next bench run. Benchmarks are not tests;
these only pin what the harness computes and prints.

Instants are epoch milliseconds written out by hand; weeks are Europe/Moscow.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from bench.data import BenchData
from bench.latency import latencies, percentile
from bench.peers.quix_job import EndOffsets, RowBuffer, TeacherWeekCounter
from bench.procs import consumed_total, gauge
from bench.report import BenchReport, Measure, RssPerTeacherWeeks, StoreCheck, final_line, render
from bench.run import parse_args
from schemas.rows import TeacherWeekRow
from stream.core.batch import BatchProcessor, DictState, Record
from stream.core.week import WeekCalendar
from stream.settings import Settings

NOW_S = 1_710_763_200.0  # 2024-03-18 15:00 MSK
SUN_MAR17_2359 = 1_710_709_140_000  # 2024-03-17 23:59 MSK, week of 11 March
MON_MAR18_MIDNIGHT = 1_710_709_200_000  # 2024-03-18 00:00 MSK, week of 18 March
W_MAR11 = (date(2024, 3, 11) - date(1970, 1, 1)).days
W_MAR18 = W_MAR11 + 7


class KeyedState:
    """Quix's State as the job sees it: one key space per message key."""

    def __init__(self) -> None:
        self.by_key: dict[bytes | None, dict[bytes, bytes]] = {}

    def for_key(self, key: bytes | None) -> KeyedState.One:
        return KeyedState.One(self.by_key.setdefault(key, {}))

    class One:
        def __init__(self, data: dict[bytes, bytes]) -> None:
            self.data = data

        def get_bytes(self, key: bytes, default: bytes | None = None) -> bytes | None:
            return self.data.get(key, default)

        def set_bytes(self, key: bytes, value: bytes) -> None:
            self.data[key] = value


def event(
    n: int, ts: int, *, user: str = "t1", role: str = "teacher", kind: str = "group", etype: str = "message_sent"
) -> tuple[bytes, bytes]:
    fields = {"chat_id": "c1", "chat_kind": kind} if etype != "call" else {"call_id": "k1", "chat_kind": kind}
    body = {"schema_version": 1, "type": etype, "event_id": f"e{n}", "ts": ts, "user_id": user, "role": role}
    return json.dumps(body | fields).encode(), user.encode()


LINES = [
    event(1, SUN_MAR17_2359),
    event(1, SUN_MAR17_2359),  # the same event delivered twice counts once
    event(2, MON_MAR18_MIDNIGHT),  # Monday 00:00 Moscow: the new week
    event(3, MON_MAR18_MIDNIGHT + 1, kind="personal"),
    event(4, MON_MAR18_MIDNIGHT + 2, etype="chat_created"),
    event(5, MON_MAR18_MIDNIGHT + 3, etype="call", kind="personal"),
    event(6, MON_MAR18_MIDNIGHT + 4, user="s1", role="student"),  # valid, not counted
    (b"{not json", b"t1"),  # rejected
    (event(7, MON_MAR18_MIDNIGHT + 5)[0], b"someone-else"),  # key is not the user_id: rejected
]


def quix_rows(lines: list[tuple[bytes, bytes]]) -> tuple[dict[tuple[str, int], TeacherWeekRow], TeacherWeekCounter]:
    counter = TeacherWeekCounter(WeekCalendar("Europe/Moscow"), clock=lambda: NOW_S)
    state = KeyedState()
    buffer = RowBuffer()
    for value, key in lines:
        row = counter(value, key, state.for_key(key))
        if row is not None:
            buffer.add(row)
    return buffer.take().teacher_weeks, counter


def test_final_line_has_whole_rates_and_ratios_to_two_decimals() -> None:
    line = final_line({"W": 12_345.6, "L": 50_000.4, "Q": 20_000.0, "R": 9_999.5, "L0": 1.0})
    assert line == "events_per_s W=12346 L=50000 Q=20000 R=10000 W/L=0.25 W/Q=0.62"


def test_final_line_with_a_missing_rate_says_nan_instead_of_dividing_by_zero() -> None:
    assert final_line({"W": 100.0, "L": 400.0}) == "events_per_s W=100 L=400 Q=0 R=0 W/L=0.25 W/Q=nan"


def test_quix_job_counts_a_teachers_week_like_the_workers_core() -> None:
    rows, counter = quix_rows(LINES)
    assert rows == {
        ("t1", W_MAR11): TeacherWeekRow(W_MAR11, "t1", 0, 1, 1, 0, 1),
        ("t1", W_MAR18): TeacherWeekRow(W_MAR18, "t1", 1, 1, 2, 1, 4),
    }
    assert (counter.tally.consumed, counter.tally.counted, counter.tally.duplicates) == (9, 5, 1)
    assert counter.tally.skipped == 3  # the student, the bad JSON, the wrong key

    processor = BatchProcessor(Settings(), check_key=True, clock=lambda: NOW_S)
    processor.process([Record(value, key, None) for value, key in LINES], DictState())
    assert processor.pending.teacher_weeks == rows


def test_quix_row_buffer_keeps_the_newest_row_and_empties_on_take() -> None:
    rows, _ = quix_rows(LINES[:3] + [event(8, MON_MAR18_MIDNIGHT + 9)])
    assert rows[("t1", W_MAR18)].version == 2
    buffer = RowBuffer()
    buffer.add(rows[("t1", W_MAR18)])
    assert len(buffer.take()) == 1 and not buffer.rows


def test_quix_job_stops_when_every_partition_reaches_its_end_offset_at_start() -> None:
    ends = EndOffsets({0: (0, 3), 1: (5, 5), 2: (10, 12)})  # partition 1 was empty
    assert not ends.done
    assert not ends.processed(0, 1)
    assert not ends.processed(0, 2)  # partition 0 done; 2 still open
    assert not ends.processed(2, 10)
    assert ends.processed(2, 11) and ends.done
    assert EndOffsets({0: (4, 4)}).done


def test_latency_is_the_first_commit_above_the_events_offset() -> None:
    a0, a1, b0 = ("a", 0), ("a", 1), ("b", 0)
    commits = {a0: [(10.0, 3), (12.0, 7)], a1: [(11.0, 1)], b0: [(9.0, 1), (10.0, 5)]}
    sends = [(a0, 2, 9.5), (a0, 3, 9.0), (a0, 6, 11.0), (a1, 0, 10.5), (a1, 1, 10.9), (b0, 2, 9.6)]
    found, unseen = latencies(sends, commits)
    # a/0 offset 3 is covered by commit 7, not by commit 3; partitions of topics a and b apart
    assert found == pytest.approx([0.4, 0.5, 0.5, 1.0, 3.0])
    assert unseen == 1
    assert percentile(found, 0.5) == pytest.approx(0.5) and percentile(found, 0.99) == pytest.approx(3.0)


def test_worker_metrics_page_is_read_for_consumed_events_and_gauges() -> None:
    page = (
        b'sferum_events_consumed_total{topic="a",type="message_sent"} 120.0\n'
        b'sferum_events_consumed_total{topic="a",type="registered"} 3.0\n'
        b'sferum_events_consumed_created{topic="a",type="registered"} 1.7e+09\n'
        b"sferum_flush_last_success_timestamp_seconds 1.7957e+09\n"
        b"sferum_assigned_partitions 4.0\n"
    )
    assert consumed_total(page) == 123
    assert gauge(page, "sferum_assigned_partitions") == 4.0
    assert gauge(page, "sferum_flush_last_success_timestamp_seconds") == 1.7957e09
    assert gauge(page, "missing") is None


def test_bench_defaults_are_a_million_events_on_four_partitions() -> None:
    args = parse_args([])
    assert (args.events, args.partitions, args.latency_rate, args.latency_seconds) == (1_000_000, 4, 5_000, 60.0)


def test_report_renders_and_rss_is_per_100k_live_teacher_weeks() -> None:
    rss = RssPerTeacherWeeks(peak_rss=300 * 2**20, rss_at_first_event=200 * 2**20, live_teacher_weeks=50_000)
    assert rss.per_100k == 600 * 2**20 and rss.growth_per_100k == 200 * 2**20
    data = BenchData(Path("e.ndjson"), 10, 5, 2, 4, 0.2, 0.001, 0, 1)
    report = BenchReport(data, "127.0.0.1:9092", 4, source="commit abc, clean", rss=rss)
    report.measures += [Measure("W", "worker", 10, 2.0, 1.0, 0.5, 1.5, 2**20), Measure("L", "consume", 10, 0.1)]
    report.checks.append(StoreCheck("W", 3, (1, 2, 3, 4, 5), True))
    out = io.StringIO()
    render(report, Console(file=out, width=200))
    text = out.getvalue()
    assert "worker" in text and "600 MiB per 100,000" in text and "commit abc" in text
