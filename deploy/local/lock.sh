#!/usr/bin/env bash
# Regenerate the hashed lock files from pyproject.toml, with uv (pinned below, installed from PyPI
# into a cache venv): run it after changing a dependency in pyproject.toml, then commit both files.
#
#   requirements.lock      what the worker runs: [project.dependencies] and the build backend
#                          ([build-system].requires); the Dockerfile installs it
#   requirements-dev.lock  the same versions plus the dev extras (tests, linters): setup.sh and CI
#
# Every line has the sha256 of each file PyPI serves for that version, and `pip install
# --require-hashes` refuses anything else. The bench's quixstreams extra is not locked (it lives
# in a venv of its own, bench/README.md). deploy/local/lockcheck.py (run by setup.sh, so by CI)
# fails when pyproject.toml and the locks disagree.
#
# usage: deploy/local/lock.sh [--upgrade]     (default: keep the locked versions that still fit)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3.11}
TOOLS=${XDG_CACHE_HOME:-$HOME/.cache}/sferum-kpi/uv-$UV_VERSION
say() { echo "lock.sh: $*" >&2; }

if [[ ! -x $TOOLS/bin/uv ]]; then
  say "installing uv $UV_VERSION into $TOOLS"
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
# The machine's CA bundle (a TLS-inspecting proxy may sit between here and PyPI).
export SSL_CERT_FILE=${SSL_CERT_FILE:-${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}}

upgrade=()
[[ ${1:-} == --upgrade ]] && upgrade=(--upgrade)

cd "$ROOT"
build_requires=$("$PYTHON" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')
common=(--generate-hashes --universal --python-version 3.11 --quiet --custom-compile-command "deploy/local/lock.sh")

say "requirements.lock"
"$TOOLS/bin/uv" pip compile pyproject.toml - "${common[@]}" "${upgrade[@]}" -o requirements.lock <<<"$build_requires"
say "requirements-dev.lock"
"$TOOLS/bin/uv" pip compile pyproject.toml - --extra dev --constraint requirements.lock "${common[@]}" "${upgrade[@]}" \
  -o requirements-dev.lock <<<"$build_requires"
"$PYTHON" deploy/local/lockcheck.py
