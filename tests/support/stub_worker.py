"""A stand-in for ``sferum-kpi worker`` under the supervisor (``tests/unit/test_supervisor.py``):
it appends what it was given to ``OUTDIR/<instance id>.log`` as JSON lines and behaves as told.

    python -m tests.support.stub_worker OUTDIR BEHAVIOUR

BEHAVIOUR: ``serve`` (run until SIGTERM or SIGINT, then log it and exit 0), ``die-once`` (the
first start exits 1 after 0.3 s, later ones serve), ``crash`` (exit 1 once ``OUTDIR/gate``
exists), ``usage`` (exit 2 once ``OUTDIR/gate`` exists), ``finish`` (exit 0 after 0.3 s, as a
drained worker), ``stop-fails`` (serve, but exit 3 on the signal)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType


def main(outdir: Path, behaviour: str) -> int:
    env = {k: v for k, v in os.environ.items() if k.startswith("SFERUM_")}
    log = outdir / f"{env['SFERUM_INSTANCE_ID']}.log"
    starts = log.read_text().count('"start"') if log.exists() else 0

    def write(event: str, **more: object) -> None:
        with log.open("a") as f:
            f.write(json.dumps({"event": event, "pid": os.getpid(), "pgid": os.getpgid(0), **more}) + "\n")

    stopped: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.append(signum)

    signal.signal(signal.SIGTERM, on_signal)  # before "start": a started stub always logs its signal
    signal.signal(signal.SIGINT, on_signal)
    write("start", env=env, ppid=os.getppid())
    if behaviour in ("crash", "usage"):
        while not (outdir / "gate").exists():  # the test opens it once every other child has started
            time.sleep(0.05)
        return 1 if behaviour == "crash" else 2
    if behaviour == "die-once" and starts == 0:
        time.sleep(0.3)
        return 1
    if behaviour == "finish":
        time.sleep(0.3)
        return 0
    while not stopped:
        time.sleep(0.05)
    write("signal", signal=signal.Signals(stopped[0]).name)
    return 3 if behaviour == "stop-fails" else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
