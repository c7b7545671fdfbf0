"""Check that the hashed lock files agree with pyproject.toml; exit 1 with one line per problem.

    python deploy/local/lockcheck.py [--root DIR]

Run by deploy/local/setup.sh before it installs (so by CI) and by deploy/local/lock.sh after it
writes the locks. It fails when a requirement of pyproject.toml ([project.dependencies], the
``dev`` extra, [build-system].requires) has no locked version that satisfies it (a pin changed
without running deploy/local/lock.sh), when the two locks lock one package at different
versions, or when a locked package has no hash. Markers are evaluated for this interpreter.
Needs only the standard library and ``packaging`` (pip's own copy when it is not installed).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

try:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a fresh venv: pip vendors packaging
    from pip._vendor.packaging.markers import Marker  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]

RUNTIME_LOCK = "requirements.lock"
DEV_LOCK = "requirements-dev.lock"
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(path: Path) -> tuple[dict[str, str], list[str]]:
    """{package: version} of the entries that apply here, and the problems of the file."""
    versions: dict[str, str] = {}
    problems: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        found = _ENTRY.match(line)
        if not found:
            continue
        name, version, marker = canonicalize_name(found.group(1)), found.group(2), found.group(3)
        if marker and not Marker(marker).evaluate():
            continue
        if i + 1 >= len(lines) or "--hash=sha256:" not in lines[i + 1]:
            problems.append(f"{path.name}: {name}=={version} has no hash")
        versions[name] = version
    return versions, problems


def requirements(pyproject: dict[str, object], *, dev: bool) -> list[Requirement]:
    project = pyproject["project"]
    assert isinstance(project, dict)
    texts = list(project["dependencies"]) + list(pyproject["build-system"]["requires"])  # type: ignore[index]
    if dev:
        texts += list(project["optional-dependencies"]["dev"])
    reqs = [Requirement(text) for text in texts]
    return [r for r in reqs if r.marker is None or r.marker.evaluate()]


def problems(root: Path) -> list[str]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    found: list[str] = []
    locks = {}
    for lock, dev in ((RUNTIME_LOCK, False), (DEV_LOCK, True)):
        path = root / lock
        if not path.is_file():
            found.append(f"{lock} is missing: run deploy/local/lock.sh")
            continue
        versions, bad = locked(path)
        locks[lock] = versions
        found += bad
        for req in requirements(pyproject, dev=dev):
            have = versions.get(canonicalize_name(req.name))
            if have is None:
                found.append(f"pyproject.toml wants {req} but {lock} has no {req.name}: run deploy/local/lock.sh")
            elif not req.specifier.contains(have, prereleases=True):
                found.append(f"pyproject.toml wants {req} but {lock} has {have}: run deploy/local/lock.sh")
    if len(locks) == 2:
        runtime, dev_versions = locks[RUNTIME_LOCK], locks[DEV_LOCK]
        for name, version in sorted(runtime.items()):
            if dev_versions.get(name, version) != version:
                found.append(f"{RUNTIME_LOCK} has {name}=={version} but {DEV_LOCK} has {dev_versions[name]}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    args = parser.parse_args(argv)
    found = problems(args.root)
    for problem in found:
        print(f"lockcheck: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
