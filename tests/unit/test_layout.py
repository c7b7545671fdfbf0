"""The top-level folders depend on each other one way only: ``schemas`` (the data contracts: events,
registry files, the rows the store is given) on neither of the others, ``sinks`` (ClickHouse) on
``schemas`` only, ``stream`` (the core, the worker and the tools) on both. Read from the import
statements of every module, at any depth (imports inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("schemas", "sinks", "stream")
#: what each folder may import, of the others
ALLOWED = {"schemas": set(), "sinks": {"schemas"}, "stream": {"schemas", "sinks"}}


def imported_folders(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in FOLDERS)
    return found


def test_imported_folders_reads_every_kind_of_import() -> None:
    source = "import stream.batch\nfrom sinks import x\ndef f():\n    from schemas.rows import y\nimport os\n"
    assert imported_folders(source) == {"stream", "sinks", "schemas"}


def test_the_top_level_folders_depend_on_each_other_one_way() -> None:
    wrong = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            others = imported_folders(path.read_text(encoding="utf-8")) - {folder}
            wrong += [f"{path.relative_to(ROOT)} imports {other}" for other in sorted(others - ALLOWED[folder])]
    assert not wrong, wrong
