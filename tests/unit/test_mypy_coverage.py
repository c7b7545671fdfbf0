"""Strict mypy covers all product code: every module of the packages pyproject.toml builds is under
one of the paths in ``[tool.mypy] files`` (issue 14)."""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _product_packages(pyproject: dict[str, Any]) -> list[str]:
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in include})


def _covered(module: PurePosixPath, paths: list[PurePosixPath]) -> bool:
    return any(module == path or path in module.parents for path in paths)


def uncovered_modules(pyproject: dict[str, Any]) -> list[str]:
    mypy = pyproject["tool"]["mypy"]
    paths = [PurePosixPath(path.rstrip("/")) for path in mypy["files"]]
    modules = [
        PurePosixPath(module.relative_to(ROOT).as_posix())
        for package in _product_packages(pyproject)
        for module in (ROOT / package).rglob("*.py")
    ]
    return sorted(str(module) for module in modules if not _covered(module, paths))


def test_product_packages_exist() -> None:
    packages = _product_packages(_pyproject())
    assert {"schemas", "sinks", "stream"} <= set(packages)
    for package in packages:
        assert (ROOT / package / "__init__.py").is_file(), package


def test_mypy_files_cover_every_product_module() -> None:
    pyproject = _pyproject()
    assert pyproject["tool"]["mypy"]["strict"] is True
    assert uncovered_modules(pyproject) == [], "add these to [tool.mypy] files in pyproject.toml"


def test_a_missing_module_is_reported() -> None:
    pyproject = _pyproject()
    pyproject["tool"]["mypy"]["files"] = ["stream", "schemas"]
    assert "sinks/kpi.py" in uncovered_modules(pyproject)
    pyproject["tool"]["mypy"]["files"] = ["stream/core/counting.py", "sinks", "schemas"]
    missing = uncovered_modules(pyproject)
    assert "stream/cli.py" in missing
    assert "stream/core/counting.py" not in missing
