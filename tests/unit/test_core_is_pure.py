"""``stream/core`` is the pure core: no Kafka, no Faust, no ClickHouse, no local store. Read from the
import statements of every module of it, at any depth (imports inside functions too); and, as run,
importing every module of it loads none of those libraries, nor ``sinks``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "stream" / "core"
#: the libraries of the worker's glue and of the store, and the store's folder
FORBIDDEN = {"faust", "aiokafka", "mode", "kafka", "clickhouse_connect", "chdb", "rocksdict", "sinks"}


def imported_roots(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_imported_roots_reads_every_kind_of_import() -> None:
    source = "import faust.app\nfrom aiokafka import x\ndef f():\n    import rocksdict\n    from sinks.kpi import y\n"
    assert imported_roots(source) & FORBIDDEN == {"faust", "aiokafka", "rocksdict", "sinks"}


def test_the_core_imports_no_kafka_faust_or_clickhouse() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert {path.stem for path in modules} >= {"counting", "batch", "week", "refresh_work"}
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules
        for name in sorted(imported_roots(path.read_text(encoding="utf-8")) & FORBIDDEN)
    ]
    assert not wrong, wrong


def test_importing_the_core_loads_none_of_them() -> None:
    names = sorted(f"stream.core.{path.stem}" for path in CORE.glob("*.py") if path.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not set(loaded) & FORBIDDEN, sorted(set(loaded) & FORBIDDEN)
