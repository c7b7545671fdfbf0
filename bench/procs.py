"""Run the measured commands as child processes and watch them from outside.

Each run gets a clean environment (no ``SFERUM_*`` of the caller's shell, only what the bench
sets) and its own log file. While it runs: peak resident memory from ``/proc/<pid>/status``
(``VmHWM``, which the kernel keeps as a high-water mark), and, for a worker, its ``/metrics``
page (``sferum_events_consumed_total``) to tell when the first event was consumed and when all
were. At exit ``os.wait4`` gives the child's CPU time and its own peak RSS (``ru_maxrss``),
which covers the last instants the polling may miss.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.1
#: After the first event the metrics page is read once a second: each read costs the worker a few
#: ms (the KPI gauges walk every user), which at 4 reads a second was 1-2 % of its CPU.
SCRAPE_AFTER_FIRST_S = 1.0
SCRAPE_TIMEOUT_S = 10.0
_CONSUMED = re.compile(rb"^sferum_events_consumed_total\{[^}]*\} ([0-9.e+]+)$", re.M)
_GAUGE = rb"^%s ([0-9.e+-]+)$"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without its SFERUM_* settings, but for the Kafka connection's
    (SFERUM_KAFKA_*: TLS and SASL), which every child needs to reach the same broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_") or k.startswith("SFERUM_KAFKA_")}
    return env | {"PYTHONWARNINGS": "ignore"} | extra


@dataclass(frozen=True)
class Spec:
    """One child: its command, environment, log file, and the port of its /metrics page if any."""

    argv: Sequence[str]
    env: dict[str, str]
    log: Path
    metrics_port: int | None = None


@dataclass
class Run:
    spec: Spec
    pid: int
    spawned: float  # time.time()
    exited: float = 0.0
    returncode: int | None = None
    cpu_s: float = 0.0
    peak_rss: int = 0  # bytes
    rss_at_first_event: int = 0
    first_event: float | None = None  # time.time(), from /metrics
    all_consumed: float | None = None  # time.time(), from /metrics
    consumed: int = 0  # the latest count read from /metrics, and when
    consumed_at: float = 0.0
    child: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def wall_s(self) -> float:
        return self.exited - self.spawned

    @property
    def stdout(self) -> str:
        path = self.spec.log.with_suffix(".out")
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self, lines: int = 30) -> str:
        text = self.spec.log.read_text(errors="replace") if self.spec.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def metrics_text(port: int, timeout_s: float = 1.0) -> bytes | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as page:
            return bytes(page.read())
    except OSError:
        return None


def consumed_total(text: bytes) -> int:
    return int(sum(float(m) for m in _CONSUMED.findall(text)))


def gauge(text: bytes, name: str) -> float | None:
    found = re.search(_GAUGE % re.escape(name.encode()), text, re.M)
    return float(found.group(1)) if found else None


def vm_kib(pid: int, field_name: str) -> int:
    """A ``Vm*`` line of ``/proc/<pid>/status`` in KiB (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(field_name.encode() + b":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


#: Children started and not yet reaped, so that a bench stopped half-way takes them down too.
_LIVE: dict[int, Run] = {}


def kill_children() -> list[int]:
    """SIGKILL every child still running (each leads its own process group) and reap it."""
    killed = []
    for pid in list(_LIVE):
        try:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            killed.append(pid)
        except OSError:
            pass
        _LIVE.pop(pid, None)
    return killed


def start(spec: Spec) -> Run:
    spec.log.parent.mkdir(parents=True, exist_ok=True)
    with spec.log.open("wb") as log, spec.log.with_suffix(".out").open("wb") as out:
        spawned = time.time()
        child = subprocess.Popen(
            list(spec.argv), env=spec.env, cwd=ROOT, stdout=out, stderr=log, start_new_session=True
        )
    run = _LIVE[child.pid] = Run(spec, child.pid, spawned, child=child)
    return run


def watch(runs: list[Run], *, expected_events: int | None = None, timeout_s: float = 3600.0) -> list[Run]:
    """Poll until every run has exited (killing them all after ``timeout_s``). Runs with a /metrics
    page are read from a thread each, since a worker busy with a batch answers late."""
    deadline = time.time() + timeout_s
    alive = {run.pid: run for run in runs}
    scraped = [run for run in runs if run.spec.metrics_port is not None]
    stop_scraping = threading.Event()
    for run in scraped:
        threading.Thread(target=_scrape_loop, args=(run, stop_scraping), daemon=True).start()
    try:
        while alive:
            now = time.time()
            if now > deadline:
                for run in alive.values():
                    os.killpg(run.pid, signal.SIGKILL)
            if expected_events is not None and scraped and sum(r.consumed for r in scraped) >= expected_events:
                consumed_at = max(r.consumed_at for r in scraped)
                for run in runs:
                    run.all_consumed = run.all_consumed or consumed_at
                stop_scraping.set()  # nothing more to learn; stop costing the workers
            for pid, run in list(alive.items()):
                run.peak_rss = max(run.peak_rss, vm_kib(pid, "VmHWM") * 1024)
                done, status, usage = os.wait4(pid, os.WNOHANG)
                if done:
                    run.exited = time.time()
                    run.returncode = os.waitstatus_to_exitcode(status)
                    run.cpu_s = usage.ru_utime + usage.ru_stime
                    run.peak_rss = max(run.peak_rss, usage.ru_maxrss * 1024)
                    if run.child is not None:
                        run.child.returncode = run.returncode  # reaped here (for its rusage), not by Popen
                    del alive[pid]
                    _LIVE.pop(pid, None)
            time.sleep(POLL_S)
    finally:
        stop_scraping.set()
    return runs


def _scrape_loop(run: Run, stop: threading.Event) -> None:
    port = run.spec.metrics_port
    assert port is not None
    while not stop.is_set() and not run.exited:
        text = metrics_text(port, timeout_s=SCRAPE_TIMEOUT_S)
        answered = time.time()
        if text is not None:
            consumed = consumed_total(text)
            if consumed and run.first_event is None:
                run.first_event = answered
                run.rss_at_first_event = vm_kib(run.pid, "VmRSS") * 1024
            run.consumed, run.consumed_at = consumed, answered
        stop.wait(POLL_S if run.first_event is None else SCRAPE_AFTER_FIRST_S)


def stop(run: Run, timeout_s: float = 60.0) -> Run:
    """SIGTERM a long-running child (the latency worker), then wait for it."""
    if run.exited or (run.child is not None and run.child.returncode is not None):
        return run  # already gone (and reaped)
    os.kill(run.pid, signal.SIGTERM)
    return watch([run], timeout_s=timeout_s)[0]


def json_stdout(run: Run) -> dict[str, object]:
    for line in reversed(run.stdout.strip().splitlines()):
        if line.startswith("{"):
            parsed: dict[str, object] = json.loads(line)
            return parsed
    raise RuntimeError(f"no JSON on stdout of {' '.join(run.spec.argv)}:\n{run.tail()}")


def python_for_quix(explicit: str | None) -> str | None:
    """An interpreter that has quixstreams: the one given, this one, or the bench venv's."""
    candidates = [explicit] if explicit else [sys.executable, str(BENCH_VENV / "bin" / "python")]
    for python in candidates:
        if python and Path(python).exists():
            probe = subprocess.run([python, "-c", "import quixstreams"], capture_output=True, cwd=ROOT)
            if probe.returncode == 0:
                return python
    return None


#: Where ``bench/README.md`` puts quixstreams when the project venv should not get it (all
#: quixstreams 3.20+ cap pydantic below the version the project venv has).
BENCH_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sferum-kpi" / "bench-venv"
