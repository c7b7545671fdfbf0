"""The indicators' thresholds and targets are defined once, in ``sinks/indicators.py``: the SQL is
rendered from it, and the gauges and the report read it. The rendered SQL is checked against the
conditions written out here by hand, so it computes what it did when the values were literals in
the files."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

import sinks.indicators as indicators
from sinks.clickhouse import schema_statements
from sinks.sql_shared import shared_sql
from stream.core.counting import Counters, UserState, WeekState
from stream.core.week import WeekCalendar, week_number
from stream.tools.report import data, labels
from stream.worker.kpi_gauges import RegionKpiGauges


def _view(statements: list[str], name: str) -> str:
    found = [s for s in statements if re.search(rf"^CREATE OR REPLACE VIEW sferum\.{name}\b", s, re.M)]
    assert len(found) == 1, name
    return re.sub(r"\s+", " ", found[0])


#: view -> conditions it must hold, with the thresholds as they were written in the files
EXPECTED = {
    "kpi_unit_week_compute": [
        "countIf(registered AND cum_created >= 1) AS a_teachers",
        "countIf(registered AND week_group_messages >= 3) AS b_teachers",
        "countIf(registered AND week_chat_messages >= 10) AS c_teachers",
        "countIf(registered AND week_calls >= 1) AS d_teachers",
        "countIf(registered AND cum_created >= 1 AND cum_group_messages >= 3) AS active_teachers",
        "sumIf(cum_created, registered) >= 1 AND sumIf(cum_group_messages, registered) >= 3 AS together_active",
        "sumIf(cum_created, registered) >= 1 AND sumIf(cum_group_messages, registered) >= 3 AS staff_active",
    ],
    "kpi_unit_week_changed_schools": [
        "countIf(registered AND chat) AS a_teachers",
        "countIf(registered AND r.group_messages >= 3) AS b_teachers",
        "countIf(registered AND r.chat_messages >= 10) AS c_teachers",
        "countIf(registered AND r.calls >= 1) AS d_teachers",
        "countIf(registered AND chat AND messages >= 3) AS active_teachers",
        "sumIf(chat, registered) >= 1 AND sumIf(messages, registered) >= 3 AS together_active",
    ],
    "kpi_unit_week_changed_areas": [
        "argMax((reg_week, chat_week, message3_week), updated_at) AS s",
        "sumIf(extra, registered AND chat) AS extra_a",
        "sumIf(extra, registered AND r.group_messages >= 3) AS extra_b",
        "sumIf(extra, registered AND r.chat_messages >= 10) AS extra_c",
        "sumIf(extra, registered AND r.calls >= 1) AS extra_d",
        "sumIf(extra, registered AND chat AND messages_active) AS extra_active",
        "sumIf(cum_created, registered) >= 1 AND sumIf(cum_group_messages, registered) >= 3 AS staff_active",
    ],
}


@pytest.mark.parametrize("cluster", ["", "sferum_cluster"])
def test_the_rendered_sql_holds_the_thresholds_written_out_by_hand(cluster: str) -> None:
    statements = schema_statements("sferum", cluster=cluster)
    for view, conditions in EXPECTED.items():
        text = _view(statements, view)
        for condition in conditions:
            assert condition in text, (view, condition)


def test_no_placeholder_is_left_unrendered() -> None:
    for statement in schema_statements("sferum"):
        code = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--"))
        # what is left in braces are ClickHouse's query parameters, {name:Type}
        assert re.findall(r"\{\w+\}", code) == [], statement[:120]


def test_the_sql_files_write_the_thresholds_as_placeholders() -> None:
    sql = Path(indicators.__file__).parent / "sql"
    text = "".join(
        (sql / name).read_text(encoding="utf-8") for name in ("040_kpi_unit_week.sql", "046_kpi_changes.sql")
    )
    uses = {"{teacher_counts}": 2, "{teacher_shares}": 3, "{staff_week_columns}": 2, "{staff_agg}": 2}
    assert {placeholder: text.count(placeholder) for placeholder in shared_sql()} == uses
    for placeholder, shared in shared_sql().items():  # the pieces the files share
        text = text.replace(placeholder, shared)
    code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    # a teacher's or staff user's counters, one unit's sums, compared with a number
    literal = r"(?:cum_created|cum_group_messages|week_\w+|r\.\w+|\bmessages|registered\))\s*>=\s*\d"
    assert re.findall(literal, code) == []
    assert len(re.findall(r">= \{(?:a|b|c|d|active)_\w+\}", code)) == 21


def test_thresholds_beyond_what_the_teacher_status_records_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert indicators.sql_placeholders()["{b_group_messages}"] == "3"
    monkeypatch.setattr(indicators, "ACTIVE_GROUP_MESSAGES", 4)
    with pytest.raises(ValueError, match="kpi_teacher_status"):
        indicators.sql_placeholders()
    monkeypatch.setattr(indicators, "ACTIVE_GROUP_MESSAGES", 3)
    monkeypatch.setattr(indicators, "A_GROUP_CHATS", 2)
    with pytest.raises(ValueError, match="kpi_teacher_status"):
        schema_statements("sferum")


def test_the_report_reads_the_targets_and_thresholds() -> None:
    assert data.TARGETS_PCT is indicators.TARGETS_PCT
    assert dict(indicators.TARGETS_PCT) == {"a": 35, "b": 25, "c": 30, "d": 30}
    assert labels.INDICATOR_TITLES == {
        "a": "Доля учителей, создавших минимум 1 групповой чат",
        "b": "Доля учителей, написавших в групповых чатах минимум 3 сообщения за неделю",
        "c": "Доля учителей, написавших минимум 10 сообщений в чаты за неделю",
        "d": "Доля учителей, совершивших минимум 1 звонок за неделю",
    }
    assert "как минимум 1 групповой чат и написавший как минимум 3 сообщения" in labels.ACTIVE_TEACHER


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, "1 сообщение"), (3, "3 сообщения"), (10, "10 сообщений"), (11, "11 сообщений"), (22, "22 сообщения")],
)
def test_count_of_takes_the_russian_form_for_the_number(n: int, expected: str) -> None:
    assert labels.count_of(n, "сообщение", "сообщения", "сообщений") == expected


def _state(week: int, since_ms: int, chats: int, group: int, chat: int, calls: int) -> UserState:
    counters = Counters(
        activity=chats + chat + calls, group_chats_created=chats, group_messages=group, chat_messages=chat, calls=calls
    )
    return UserState(
        stream_time=since_ms, weeks={week: WeekState(teacher=counters)}, teacher_since=since_ms, teacher_totals=counters
    )


@pytest.mark.parametrize(
    ("chats", "group", "chat", "calls", "met"),
    [
        (1, 3, 10, 1, {"registered", "a", "b", "c", "d", "active"}),  # each at its threshold
        (0, 2, 9, 0, {"registered"}),  # each one below
        (1, 2, 2, 0, {"registered", "a"}),  # a group chat, too few messages for b and active
        (0, 3, 3, 0, {"registered", "b"}),  # messages, no chat: b, not active
    ],
)
def test_the_gauges_count_at_the_thresholds(chats: int, group: int, chat: int, calls: int, met: set[str]) -> None:
    calendar = WeekCalendar("Europe/Moscow")
    week = week_number(date(2026, 11, 23))
    gauges = RegionKpiGauges(calendar, clock=lambda: calendar.week_start_ms(week) / 1000 + 3600)
    gauges.regions_of = {"t1": ("r1",)}
    gauges.update("t1", _state(week, calendar.week_start_ms(week) - 86_400_000, chats, group, chat, calls))
    assert {k for k, v in gauges.counts()["r1"].items() if v} == met
