"""The worker's stop order (``stream.worker.app.stop_runner``): a static member keeps its place in the group
(heartbeats) through the last refresh of the indicators and stops its consumer last; a dynamic
member leaves first, so that its partitions move at once.

Regression: a static member stopped its consumer, then refreshed the indicators (6.6 s of a
rolling restart in the scale-out scenario, ``tests/tools/scale_out.py``), then exited; with
the new process's start, the group's default 10 s session timeout ran out before it was back, and
its partitions moved."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stream.worker import app


class FakeRunner:
    def __init__(self, static: bool, calls: list[str]) -> None:
        self.static_member = static
        self.calls = calls

    async def stop(self) -> None:
        self.calls.append("checkpoint and drop the tasks")

    async def leave(self) -> None:
        self.calls.append("stop the consumer")


def _stop(static: bool, refresh: Any = None, calls: list[str] | None = None) -> list[str]:
    calls = [] if calls is None else calls

    async def refresh_kpi() -> None:
        calls.append("refresh the indicators")
        if refresh is not None:
            await refresh()

    asyncio.run(app.stop_runner(FakeRunner(static, calls), refresh_kpi))  # type: ignore[arg-type]
    return calls


def test_a_static_member_refreshes_the_indicators_before_its_consumer_stops() -> None:
    assert _stop(static=True) == ["checkpoint and drop the tasks", "refresh the indicators", "stop the consumer"]


def test_a_dynamic_member_leaves_the_group_before_the_refresh() -> None:
    assert _stop(static=False) == ["checkpoint and drop the tasks", "stop the consumer", "refresh the indicators"]


def test_a_static_member_stops_its_consumer_when_the_refresh_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "STOP_REFRESH_S", 0.05)
    calls = _stop(static=True, refresh=lambda: asyncio.sleep(5))
    assert calls[-1] == "stop the consumer"


def test_a_static_member_stops_its_consumer_when_the_refresh_fails() -> None:
    async def fail() -> None:
        raise RuntimeError("the store is away")

    calls: list[str] = []
    with pytest.raises(RuntimeError):
        _stop(static=True, refresh=fail, calls=calls)
    assert calls[-1] == "stop the consumer"
