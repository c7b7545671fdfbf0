"""Where things are, for the tests and the scenario scripts: the repository, the local broker's
script, the command line of ``sferum-kpi``."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "deploy" / "local" / "kafka.sh"
#: ``sferum-kpi`` run by this interpreter.
CLI = [sys.executable, "-m", "stream"]
