"""Where things are, for the tests and the scenario scripts: the repository, the local broker's
script, the command line of ``sferum-kpi`` (``tests.conftest`` re-exports ``ROOT``, ``CLI``,
``run_cli``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "deploy" / "local" / "kafka.sh"
#: ``sferum-kpi`` run by this interpreter.
CLI = [sys.executable, "-m", "stream"]


def run_cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``sferum-kpi`` in a subprocess with only the given SFERUM_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SFERUM_")}
    return subprocess.run([*CLI, *args], env=clean | env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
