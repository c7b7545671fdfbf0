"""``python -m bench.capacity`` without a broker or a store: its argument errors, and the
arithmetic of the figures it prints. No timing here: the figures are docs/capacity.md's."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bench.capacity import (
    DescribeLogDirsRequest,
    DescribeLogDirsRequest_v1,
    DescribeLogDirsResponse_v1,
    counted_events,
    federal_factor,
    log_size,
    parse_args,
    per,
    sizes_by_topic,
    state_size,
    steady_week_rows,
    week_rows,
)
from stream.core.counting import Counters, UserState, WeekState
from stream.state.codec import CHUNK_IDS, MAX_INLINE_IDS, encode_user


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nonsense"],
        ["worker"],
        ["worker", "--broker", "h:1", "--events", "0"],
        ["worker", "--broker", "h:1", "--partitions", "-1"],
        ["worker", "--broker", "h:1", "--flush-interval-s", "0"],
        ["worker", "--broker", "h:1", "--events", "many"],
        ["worker", "--broker", "h:1", "--bogus"],
        ["store"],
        ["store", "--store", "chdb:///x", "--scale", "0.05"],
    ],
)
def test_argument_errors_are_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m bench.capacity"), err


def test_arguments_and_their_defaults() -> None:
    worker = parse_args(["worker", "--broker", "127.0.0.1:9092"])
    assert (worker.events, worker.partitions, worker.flush_interval_s, worker.keep) == (300_000, 4, None, False)
    store = parse_args(["store", "--store", "chdb:///tmp/s", "--optimize"])
    assert (store.store, store.optimize) == ("chdb:///tmp/s", True)


def test_log_size_counts_every_record_and_keeps_the_newest_of_each_key() -> None:
    size = log_size([(b"ua", b"12345"), (b"ub", b"1"), (b"ua", b"1234567"), (b"c1", b"xx"), (b"c1", None)])
    assert (size.records, size.total, size.tombstones) == (5, 7 + 3 + 9 + 4 + 2, 1)
    assert (size.live_keys, size.live_bytes) == (2, 9 + 3)  # ua's newest, ub; c1 deleted


def test_state_size_counts_the_ids_of_main_records_and_chunks() -> None:
    small = UserState(stream_time=5, weeks={1: WeekState(ids={1, 2, 3}, teacher=Counters(3, 1, 2, 0, 0))})
    many = set(range(MAX_INLINE_IDS + CHUNK_IDS + 1))
    big = UserState(stream_time=9, weeks={2: WeekState(ids=many)})
    records = [*encode_user("t1", small, {})[0], *encode_user("t2", big, {})[0]]
    size = state_size((key, value) for key, value in records if value is not None)
    assert (size.users, size.chunks, size.ids) == (2, 2, 3 + len(many))
    assert size.total == sum(len(k) + len(v or b"") for k, v in records)
    assert size.bytes_besides_ids == pytest.approx((size.total - 9 * size.ids) / 2)


def test_per_and_rows_per_week() -> None:
    assert per(50, 200, 100) == 25.0 and per(1, 0) == 0.0
    rows = {"teacher_week": {"2025-11-03": 10, "2025-11-10": 30, "2025-11-17": 50}, "staff_week": {}}
    assert week_rows(rows) == {"teacher_week": 30.0}
    assert steady_week_rows(rows) == {"teacher_week": 40.0}  # the first week (the backlog) left out


def test_federal_factor_is_the_registry_units_a_tables_rows_grow_with() -> None:
    store = {"regions": 85, "municipalities": 1202, "schools": 2419, "teachers": 55_000, "students": 604_220}
    federal = {"regions": 85, "municipalities": 1917, "schools": 50_389, "teachers": 1_100_000}
    federal |= {"students": 11_583_705, "staff": 5_000}
    assert federal_factor("teacher_week", store, federal) == 20.0
    assert federal_factor("kpi_unit_week_data", store, federal) == pytest.approx(52_391 / 3_706)
    assert federal_factor("staff_week", store, federal) == 0.0  # no staff in the store: nothing to scale


def test_topic_sizes_add_up_replicas_and_leave_out_future_ones_and_failed_dirs() -> None:
    results = [
        (0, "/d1", [("in", [(0, 100, 0, False), (1, 50, 0, False)]), ("cl", [(0, 7, 0, False)])]),
        (0, "/d2", [("in", [(0, 100, 0, False), (0, 99, 0, True)])]),  # a replica, and a move under way
        (57, "/d3", [("in", [(0, 1000, 0, False)])]),  # KAFKA_STORAGE_ERROR: not counted
    ]
    assert sizes_by_topic(results) == {"in": 250, "cl": 7}


def test_describe_log_dirs_request_and_response_encode_as_version_1() -> None:
    request = DescribeLogDirsRequest({"t": [0, 1]}).prepare({35: (1, 4)})
    assert isinstance(request, DescribeLogDirsRequest_v1)
    # topics: [("t", [0, 1])], as int32 count, int16-prefixed name, int32 count, int32s
    topics = b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x01"
    assert request.encode() == topics
    response = DescribeLogDirsResponse_v1(0, [(0, "/d", [("t", [(0, 42, 0, False)])])])
    decoded = DescribeLogDirsResponse_v1.decode(io.BytesIO(response.encode()))
    assert sizes_by_topic(decoded.results) == {"t": 42}


def test_counted_events_are_teachers_and_staffs_activity_and_registrations(tmp_path: Path) -> None:
    lines = [
        {"type": "message_sent", "role": "teacher"},
        {"type": "call", "role": "staff"},
        {"type": "message_sent", "role": "student"},
        {"type": "registered", "role": "student"},
        {"type": "registered", "role": "school"},
    ]
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert counted_events(path) == (2, 2)
