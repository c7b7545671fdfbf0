"""The Grafana board generator (``deploy/grafana/boards/``) keeps what its modules share in the
shared modules: no run of six or more lines (blank lines aside, indentation ignored, runs made
only of brackets and commas aside) appears in two of its modules."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "deploy" / "grafana" / "boards"
RUN = 6
TRIVIAL = re.compile(r"[\s()\[\]{},:\"]*")


def runs(path: Path) -> set[tuple[str, ...]]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    windows = (tuple(lines[i : i + RUN]) for i in range(len(lines) - RUN + 1))
    return {w for w in windows if not all(TRIVIAL.fullmatch(line) for line in w)}


def test_no_block_of_six_lines_repeats_across_modules() -> None:
    modules = sorted(BOARDS.glob("*.py"))
    assert {"common.py", "sql.py", "panels.py", "region.py", "federal.py", "ingestion.py"} <= {p.name for p in modules}
    seen: dict[tuple[str, ...], str] = {}
    repeated = []
    for path in modules:
        for run in runs(path):
            if run in seen:
                repeated.append((seen[run], path.name, run))
            seen.setdefault(run, path.name)
    assert not repeated, "\n".join(f"{a} and {b}:\n  " + "\n  ".join(run) for a, b, run in repeated)
