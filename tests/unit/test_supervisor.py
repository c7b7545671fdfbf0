"""``worker --processes N``: the children's settings, and the supervisor's behaviour run in a
process of its own on stub children (``tests/support/stub_worker.py``): signals forwarded,
a dead child restarted with the same id, giving up, exit codes, children that die with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stream.settings import ConfigError, load_settings
from stream.worker.supervisor import plan_children, worker_command
from tests.conftest import ROOT
from tests.support.waiting import wait_until

SERVER = "http://clickhouse.example:8123"
FAST = {"initial_delay_s": 0.2, "max_delay_s": 0.4, "healthy_after_s": 30.0, "max_quick_failures": 2}


def test_children_get_their_own_data_dir_port_and_instance_id(tmp_path: Path) -> None:
    settings = load_settings(processes=3, store=SERVER, data_dir=tmp_path, web_port=7000, broker="kafka://k:9092")
    children = plan_children(settings, "node-7")
    assert [c.instance_id for c in children] == ["node-7-0", "node-7-1", "node-7-2"]
    assert [c.data_dir for c in children] == [tmp_path / "worker-0", tmp_path / "worker-1", tmp_path / "worker-2"]
    assert [c.web_port for c in children] == [7000, 7001, 7002]
    assert children[1].env == {
        "SFERUM_BROKER": "kafka://k:9092",
        "SFERUM_STORE": SERVER,
        "SFERUM_PROCESSES": "1",  # a child never supervises in turn
        "SFERUM_INSTANCE_ID": "node-7-1",
        "SFERUM_DATA_DIR": str(tmp_path / "worker-1"),
        "SFERUM_WEB_PORT": "7001",
    }


def test_instance_ids_come_from_the_instance_id_setting_when_set(tmp_path: Path) -> None:
    settings = load_settings(processes=2, store=SERVER, data_dir=tmp_path, instance_id="kpi-a")
    assert [c.instance_id for c in plan_children(settings, "ignored")] == ["kpi-a-0", "kpi-a-1"]


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"store": ""}, "cannot share one embedded store"),
        ({"store": "chdb:///tmp/s"}, "cannot share one embedded store"),
        ({"partitions": 2}, "more than the 2 partitions"),
        ({"web_port": 65534}, "web ports 65534 to 65536"),
    ],
)
def test_sets_that_cannot_work_are_refused(overrides: dict[str, Any], needle: str, tmp_path: Path) -> None:
    settings = load_settings(**({"processes": 3, "store": SERVER, "data_dir": tmp_path} | overrides))
    with pytest.raises(ConfigError, match=needle):
        plan_children(settings, "node")


def test_a_host_name_that_cannot_be_an_instance_id_asks_for_the_setting(tmp_path: Path) -> None:
    settings = load_settings(processes=2, store=SERVER, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="set SFERUM_INSTANCE_ID"):
        plan_children(settings, "bad host/name")


# the supervisor, on stub children ------------------------------------------------------------


class Run:
    def __init__(self, tmp_path: Path, behaviours: list[str], *, drain: bool = False) -> None:
        self.outdir = tmp_path / "out"
        self.outdir.mkdir()
        spec = {
            "settings": {"processes": len(behaviours), "store": SERVER, "data_dir": str(tmp_path / "data")},
            "hostname": "host-a",
            "drain": drain,
            "policy": FAST,
            "stub": {"outdir": str(self.outdir), "behaviours": behaviours},
        }
        self.n = len(behaviours)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.supervise", json.dumps(spec)],
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("SFERUM_")},
            stderr=subprocess.PIPE,
            text=True,
        )

    def events(self, index: int) -> list[dict[str, Any]]:
        log = self.outdir / f"host-a-{index}.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def starts(self, index: int) -> list[dict[str, Any]]:
        return [e for e in self.events(index) if e["event"] == "start"]

    def wait_started(self, counts: list[int]) -> None:
        wait_until(
            f"starts {counts}",
            lambda: [len(self.starts(i)) for i in range(self.n)],
            lambda got: got == counts,
            timeout_s=30,
        )

    def open_gate(self) -> None:
        (self.outdir / "gate").touch()

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        try:
            _, stderr = self.proc.communicate(timeout=timeout)
        finally:
            self.proc.kill()
            self.kill_children()
        return self.proc.returncode, stderr

    def kill_children(self) -> None:
        """No stub outlives its test, whatever the supervisor did."""
        for i in range(self.n):
            for event in self.starts(i):
                if _alive(event["pid"]):
                    os.kill(event["pid"], signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_reaches_every_child_which_stops_and_the_supervisor_exits_0(tmp_path: Path, sig: int) -> None:
    run = Run(tmp_path, ["serve", "serve", "serve"])
    run.wait_started([1, 1, 1])
    starts = [run.starts(i)[0] for i in range(3)]
    assert [s["env"]["SFERUM_WEB_PORT"] for s in starts] == ["6066", "6067", "6068"]
    assert [s["env"]["SFERUM_DATA_DIR"] for s in starts] == [str(tmp_path / "data" / f"worker-{i}") for i in range(3)]
    assert [s["env"]["SFERUM_INSTANCE_ID"] for s in starts] == ["host-a-0", "host-a-1", "host-a-2"]
    assert {s["ppid"] for s in starts} == {run.proc.pid}
    # each child in a process group of its own: a terminal's Ctrl-C reaches the supervisor only
    assert all(s["pgid"] == s["pid"] for s in starts)
    run.proc.send_signal(sig)
    code, stderr = run.finish()
    assert code == 0, stderr
    for i in range(3):
        assert [e["event"] for e in run.events(i)] == ["start", "signal"]
        assert run.events(i)[1]["signal"] == signal.Signals(sig).name


def test_a_dead_child_is_restarted_with_the_same_id_dir_and_port(tmp_path: Path) -> None:
    run = Run(tmp_path, ["serve", "die-once", "serve"])
    run.wait_started([1, 2, 1])
    first, second = run.starts(1)
    assert first["pid"] != second["pid"]
    assert first["env"] == second["env"]
    time.sleep(1.0)  # nothing else restarts
    assert [len(run.starts(i)) for i in range(3)] == [1, 2, 1]
    run.proc.send_signal(signal.SIGTERM)
    code, stderr = run.finish()
    assert code == 0, stderr
    assert "worker-1 exited with code 1" in stderr and "restarting" in stderr


def test_a_child_that_keeps_dying_stops_the_others_and_the_supervisor_exits_1(tmp_path: Path) -> None:
    run = Run(tmp_path, ["serve", "crash"])
    run.wait_started([1, 1])
    run.open_gate()
    code, stderr = run.finish()
    assert code == 1, stderr
    # started once, then restarted max_quick_failures times
    assert len(run.starts(1)) == 1 + FAST["max_quick_failures"]
    assert [e["event"] for e in run.events(0)] == ["start", "signal"]
    assert run.events(0)[1]["signal"] == "SIGTERM"


def test_a_child_with_bad_settings_is_not_restarted_and_the_supervisor_exits_2(tmp_path: Path) -> None:
    run = Run(tmp_path, ["usage", "serve"])
    run.wait_started([1, 1])
    run.open_gate()
    code, stderr = run.finish()
    assert code == 2, stderr
    assert len(run.starts(0)) == 1
    assert [e["event"] for e in run.events(1)] == ["start", "signal"]


def test_a_child_that_fails_its_stop_makes_the_exit_code_non_zero(tmp_path: Path) -> None:
    run = Run(tmp_path, ["serve", "stop-fails"])
    run.wait_started([1, 1])
    run.proc.send_signal(signal.SIGTERM)
    code, stderr = run.finish()
    assert code == 3, stderr
    assert [e["event"] for e in run.events(0)] == ["start", "signal"]


def test_drained_children_are_not_restarted_and_the_supervisor_exits_0(tmp_path: Path) -> None:
    run = Run(tmp_path, ["finish", "finish"], drain=True)
    code, stderr = run.finish()
    assert code == 0, stderr
    assert [len(run.starts(i)) for i in range(2)] == [1, 1]


def test_children_get_sigterm_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    run = Run(tmp_path, ["serve", "serve"])
    run.wait_started([1, 1])
    pids = [run.starts(i)[0]["pid"] for i in range(2)]
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait(timeout=10)
    try:
        wait_until(
            "children signalled", lambda: [len(run.events(i)) for i in range(2)], lambda n: n == [2, 2], timeout_s=10
        )
        assert [run.events(i)[1]["signal"] for i in range(2)] == ["SIGTERM", "SIGTERM"]
        wait_until("children gone", lambda: [_alive(pid) for pid in pids], lambda alive: not any(alive), timeout_s=10)
    finally:
        run.kill_children()


def test_each_child_tags_its_log_lines_with_its_name(tmp_path: Path) -> None:
    settings = load_settings(processes=2, store=SERVER, data_dir=tmp_path)
    command = worker_command(drain=True, log_level=20)
    assert [command(child)[3:] for child in plan_children(settings, "host")] == [
        ["--log-level", "info", "--log-tag", "worker-0", "worker", "--drain"],
        ["--log-level", "info", "--log-tag", "worker-1", "worker", "--drain"],
    ]
