"""The locked supply chain: the versions the worker's glue was written against, and lock files
that agree with pyproject.toml (deploy/local/lockcheck.py, which setup.sh runs before installing)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import distributions, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
LOCKCHECK = ROOT / "deploy" / "local" / "lockcheck.py"

#: Written by hand: the versions whose internals the glue reads. stream/kafka/clients.py
#: ``fetch_state`` reads aiokafka's subscription state (``consumer._subscription``); stream/worker/app.py
#: subclasses Faust's ``BootStrategy`` (Faust runs on mode-streaming); stream/core/counting.py keeps
#: xxhash's ``xxh3_64`` of every event id in the state, so another xxhash must hash alike.
GLUE_VERSIONS = {
    "faust-streaming": "0.15.3",
    "mode-streaming": "0.7.1",
    "aiokafka": "0.14.0",
    "xxhash": "4.1.0",
}


@pytest.mark.parametrize(("package", "expected"), GLUE_VERSIONS.items())
def test_installed_version_is_the_one_the_glue_was_written_against(package: str, expected: str) -> None:
    assert version(package) == expected, (
        f"{package} {version(package)} is installed but the glue was written against {expected}: "
        "install from requirements-dev.lock (deploy/local/setup.sh)"
    )


def test_pyproject_pins_each_of_them_exactly() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = {Requirement(text).name: str(Requirement(text).specifier) for text in pyproject["project"]["dependencies"]}
    assert {name: pins.get(name) for name in GLUE_VERSIONS} == {name: f"=={v}" for name, v in GLUE_VERSIONS.items()}


def lockcheck(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LOCKCHECK), "--root", str(root)], capture_output=True, text=True)


def test_the_lock_files_agree_with_pyproject() -> None:
    result = lockcheck(ROOT)
    assert result.returncode == 0, result.stderr


def copy_of_project(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_pin_changed_without_the_lock_fails_the_check(tmp_path: Path) -> None:
    root = copy_of_project(tmp_path)
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    (root / "pyproject.toml").write_text(text.replace('"aiokafka==0.14.0"', '"aiokafka==0.13.0"'), encoding="utf-8")
    result = lockcheck(root)
    assert result.returncode == 1
    assert "aiokafka==0.13.0 but requirements.lock has 0.14.0" in result.stderr


def test_a_new_dependency_without_the_lock_fails_the_check(tmp_path: Path) -> None:
    root = copy_of_project(tmp_path)
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    (root / "pyproject.toml").write_text(
        text.replace('"xxhash==4.1.0",', '"xxhash==4.1.0",\n    "left-pad>=1",'), encoding="utf-8"
    )
    result = lockcheck(root)
    assert result.returncode == 1 and "has no left-pad" in result.stderr


def test_a_locked_package_without_its_hash_fails_the_check(tmp_path: Path) -> None:
    root = copy_of_project(tmp_path)
    lines = (root / "requirements.lock").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("aiokafka=="))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].lstrip().startswith("--hash"))
    lines[start:end] = ["aiokafka==0.14.0"]
    (root / "requirements.lock").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = lockcheck(root)
    assert result.returncode == 1 and "aiokafka==0.14.0 has no hash" in result.stderr


def test_setup_installs_from_the_hashed_lock_only() -> None:
    setup = (ROOT / "deploy" / "local" / "setup.sh").read_text(encoding="utf-8")
    installs = [line for line in setup.splitlines() if " install " in line and "pip" in line and "apt-get" not in line]
    assert any("--require-hashes" in line and "requirements-dev.lock" in line for line in installs), installs
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs), installs
    assert "lockcheck.py" in setup


def test_no_other_installed_distribution_provides_our_import_names() -> None:
    """The product installs its folders under their own names (``stream``, ``sinks``, ``schemas``):
    generic names, safe because the service has a virtual environment or image of its own. A
    dependency that brought a top-level package of one of these names would shadow ours or be
    shadowed by it; this fails first."""
    ours = {"stream", "sinks", "schemas"}
    others = {
        (str(dist.metadata["Name"]), file.parts[0])
        for dist in distributions()
        if dist.metadata["Name"] != "sferum-kpi"
        for file in dist.files or ()
        if file.parts and file.parts[0] in ours
    }
    assert others == set()
