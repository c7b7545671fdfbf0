"""``worker --processes N``: N worker processes of one consumer group on one host.

Each child is an ordinary ``sferum-kpi worker`` with its own data directory
(``<data_dir>/worker-<i>``: its RocksDB state), its own web port (``web_port + i``: its
``/metrics``) and a static-membership instance id (``<instance_id>-<i>``, or
``<host name>-<i>`` when ``instance_id`` is empty). A static member does not leave the group
when it stops (aiokafka sends no LeaveGroup for a ``group_instance_id``), so a child restarted
within the session timeout gets its partitions back and no other member's partitions move.

The supervisor forwards SIGTERM and SIGINT to every child (each then checkpoints, refreshes the
indicators and exits) and waits for them all. A child that exits on its own (not asked to, and not
a ``--drain`` child that finished) is restarted with the same id, data directory and port, after a
delay that doubles from ``initial_delay_s`` up to ``max_delay_s``; one that exits with code 2
(bad settings: every restart would fail alike), or that fails ``max_quick_failures`` times in a
row each within ``healthy_after_s`` of its start, stops every child and the supervisor exits
non-zero. Children run in their own process group (a terminal's Ctrl-C reaches the supervisor
only, which forwards it once) and get SIGTERM if the supervisor dies (Linux).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from stream.settings import ConfigError, Settings

log = logging.getLogger(__name__)

#: The exit code of bad arguments and settings (``stream.cli``): a child that exits with it is
#: not restarted.
EXIT_USAGE = 2
POLL_S = 0.1
_INSTANCE_ID = re.compile(r"^[A-Za-z0-9._-]{1,240}$")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Child:
    """One worker process of the set: what makes it distinct from the others."""

    index: int
    instance_id: str
    data_dir: Path
    web_port: int
    #: SFERUM_* settings the child gets on top of the environment it inherits.
    env: dict[str, str]

    @property
    def name(self) -> str:
        return f"worker-{self.index}"


@dataclass(frozen=True)
class RestartPolicy:
    initial_delay_s: float = 1.0
    max_delay_s: float = 30.0
    #: A child that ran this long before dying is restarted after ``initial_delay_s`` again.
    healthy_after_s: float = 60.0
    #: Consecutive deaths, each within ``healthy_after_s`` of the start, before giving up.
    max_quick_failures: int = 5


def check_processes(settings: Settings) -> None:
    """Refuse a set of processes that cannot work: a ``ConfigError`` (one line, exit 2)."""
    n = settings.processes
    if n == 1:
        return
    if not settings.store_dsn.startswith(("http://", "https://")):
        raise ConfigError(
            f"{n} worker processes (--processes, SFERUM_PROCESSES) need a ClickHouse server "
            f"(--store or SFERUM_STORE http(s)://…): {n} processes cannot share one embedded store"
        )
    if n > settings.partitions:
        raise ConfigError(
            f"{n} worker processes (--processes, SFERUM_PROCESSES) are more than the {settings.partitions} "
            f"partitions (SFERUM_PARTITIONS): those beyond the first {settings.partitions} would get none"
        )
    if settings.web_enabled and settings.web_port + n - 1 > 65535:
        raise ConfigError(
            f"{n} worker processes need the web ports {settings.web_port} to {settings.web_port + n - 1} "
            "(SFERUM_WEB_PORT + i): set a lower SFERUM_WEB_PORT"
        )


def plan_children(settings: Settings, hostname: str) -> list[Child]:
    """The children of ``settings.processes`` worker processes on the host ``hostname``."""
    check_processes(settings)
    base = settings.instance_id or hostname
    if not _INSTANCE_ID.match(f"{base}-{settings.processes - 1}"):
        raise ConfigError(
            f"cannot make instance ids from {base!r}: set SFERUM_INSTANCE_ID (letters, digits, '.', '_', '-')"
        )
    children = []
    for i in range(settings.processes):
        instance_id = f"{base}-{i}"
        data_dir = settings.data_dir / f"worker-{i}"
        port = settings.web_port + i
        env = {
            # the flags the supervisor was given reach the children as settings; in the
            # environment, not on the command line, where any user of the host could read a DSN's password
            "SFERUM_BROKER": settings.broker,
            "SFERUM_STORE": settings.store_dsn,
            "SFERUM_PROCESSES": "1",
            "SFERUM_INSTANCE_ID": instance_id,
            "SFERUM_DATA_DIR": str(data_dir),
            "SFERUM_WEB_PORT": str(port),
        }
        children.append(Child(i, instance_id, data_dir, port, env))
    return children


def worker_command(*, drain: bool, log_level: int) -> Callable[[Child], list[str]]:
    """The command line of a real child: this interpreter running ``sferum-kpi worker``."""
    level = logging.getLevelName(log_level).lower()

    def command(child: Child) -> list[str]:
        tagged = ["--log-level", level, "--log-tag", child.name]
        return [sys.executable, "-m", "stream", *tagged, "worker", *(["--drain"] if drain else [])]

    return command


@dataclass
class _Slot:
    child: Child
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float | None = None
    delay: float = 0.0
    quick_failures: int = 0
    done: bool = False


class Supervisor:
    """Runs the children until stopped (a signal), until every ``--drain`` child finished, or
    until a child cannot be kept running. ``run`` returns the exit code."""

    def __init__(
        self,
        children: list[Child],
        command: Callable[[Child], list[str]],
        *,
        drain: bool,
        policy: RestartPolicy | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self._slots = [_Slot(child, delay=self.policy.initial_delay_s) for child in children]
        self._command = command
        self._drain = drain
        self._environ = dict(os.environ if environ is None else environ)  # passed on as it is
        self._signals: list[int] = []
        self._stopping = False
        self._code = 0

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in self._slots:
                self._start(slot)
            while not self._finished():
                self._forward_signals()
                for slot in self._slots:
                    self._check(slot)
                time.sleep(POLL_S)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self._code

    # --------------------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)  # forwarded by the loop: never half-way through a start

    def _forward_signals(self) -> None:
        while self._signals:
            signum = self._signals.pop(0)
            if not self._stopping:
                log.info("%s: stopping %d worker processes", signal.Signals(signum).name, len(self._slots))
            self._stopping = True
            self._send_all(signum)

    def _send_all(self, signum: int) -> None:
        for slot in self._slots:
            slot.restart_at = None
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.send_signal(signum)

    def _stop_all(self, code: int) -> None:
        """Give up: stop every child, and exit with ``code`` once they are gone."""
        self._code = self._code or code
        if not self._stopping:
            self._stopping = True
            self._send_all(signal.SIGTERM)

    def _finished(self) -> bool:
        running = any(slot.proc is not None for slot in self._slots)
        waiting = any(slot.restart_at is not None for slot in self._slots)
        return not running and not waiting and (self._stopping or all(slot.done for slot in self._slots))

    def _start(self, slot: _Slot) -> None:
        child = slot.child
        slot.restart_at = None
        slot.proc = subprocess.Popen(  # noqa: S603  # our own interpreter and arguments
            self._command(child),
            env=self._environ | child.env,
            process_group=0,
            preexec_fn=_die_with_parent,  # noqa: PLW1509  # nothing else runs threads here
        )
        slot.started = time.monotonic()
        log.info(
            "%s started (pid %d): instance id %s, data dir %s, web port %d",
            child.name,
            slot.proc.pid,
            child.instance_id,
            child.data_dir,
            child.web_port,
        )

    def _check(self, slot: _Slot) -> None:
        if slot.proc is None:
            if slot.restart_at is not None and time.monotonic() >= slot.restart_at and not self._stopping:
                self._start(slot)
            return
        code = slot.proc.poll()
        if code is None:
            return
        slot.proc = None
        ran = time.monotonic() - slot.started
        if self._stopping:
            if code != 0:
                log.warning("%s exited with code %d", slot.child.name, code)
                self._code = self._code or (code if code > 0 else 1)
            return
        if code == 0 and self._drain:
            slot.done = True
            return
        if code == EXIT_USAGE:
            log.error("%s exited with code 2 (bad settings); stopping every worker process", slot.child.name)
            self._stop_all(EXIT_USAGE)
            return
        if ran >= self.policy.healthy_after_s:
            slot.quick_failures, slot.delay = 0, self.policy.initial_delay_s
        slot.quick_failures += 1
        if slot.quick_failures > self.policy.max_quick_failures:
            log.error(
                "%s exited with code %d, %d times in a row within %.0f s of its start; stopping every worker process",
                slot.child.name,
                code,
                slot.quick_failures,
                self.policy.healthy_after_s,
            )
            self._stop_all(1)
            return
        log.warning("%s exited with code %d after %.0f s; restarting in %.1f s", slot.child.name, code, ran, slot.delay)
        slot.restart_at = time.monotonic() + slot.delay
        slot.delay = min(slot.delay * 2, self.policy.max_delay_s)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the supervisor dies (Linux), so that no worker
    outlives it and a new supervisor's child never meets an old one with its instance id."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
