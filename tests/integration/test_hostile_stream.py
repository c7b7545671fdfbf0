"""A 10 MB message and a burst of 100,000 duplicates on the real broker do not stall the worker:
``worker --drain`` gets through, the big message is dead-lettered as ``too_large`` and the events
after both are counted exactly (``tests/tools/hostile_stream.py``, which also runs it with
1,000,000 duplicates: ``python -m tests.tools.hostile_stream --broker HOST:PORT``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.hostile_stream import run_hostile

pytestmark = pytest.mark.integration


def test_a_10_mb_message_and_100k_duplicates_do_not_stall_the_worker(broker: str, tmp_path: Path) -> None:
    report = run_hostile(broker, tmp_path, duplicates=100_000, big_bytes=10 << 20, events=2000)
    print("\n" + report.summary())
    assert report.exit_code == 0, report.summary()
    assert report.drain_s < 300, report.summary()  # did not stall (about 50 s here)
    assert report.big_dead_lettered, report.summary()
    assert report.exact, report.summary()
    # every rejection the oracle expects, and the big one, and nothing else
    assert report.dead_letter_reasons == {**report.expected_reasons, "too_large": 1}, report.summary()
