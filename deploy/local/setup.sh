#!/usr/bin/env bash
# Set up a fresh machine for sferum-kpi: the Python venv with the locked packages (every file
# checked against its sha256 in requirements-dev.lock), and the Kafka jars (from Maven Central,
# cached outside the repo). Idempotent and quick when nothing changed. It fails when
# pyproject.toml and the lock files disagree (deploy/local/lockcheck.py): after changing a
# dependency, run deploy/local/lock.sh.
#
# usage: deploy/local/setup.sh        env: PYTHON (python3.11), SFERUM_VENV (<repo>/.venv)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${SFERUM_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3.11}

say() { echo "setup: $*" >&2; }

command -v "$PYTHON" >/dev/null || { say "$PYTHON not found: sferum-kpi needs Python 3.11"; exit 1; }
command -v java >/dev/null || { say "java not found: the local Kafka broker needs Java 17+"; exit 1; }

# The locks must satisfy pyproject.toml (a pin changed without deploy/local/lock.sh fails here).
"$PYTHON" "$ROOT/deploy/local/lockcheck.py" --root "$ROOT" || { say "the lock files do not match pyproject.toml"; exit 1; }

# Reinstall only when pyproject.toml or the lock changed since the last successful install. Only
# hashed files from the lock are installed (--require-hashes), the build backend included (so no
# build isolation, which would fetch setuptools unchecked); then the project itself, without deps.
stamp=$(cat "$ROOT/pyproject.toml" "$ROOT/requirements-dev.lock" | sha256sum | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || ! -f $VENV/.installed || $(<"$VENV/.installed") != "$stamp" ]]; then
  say "creating $VENV and installing sferum-kpi with its dev extras from requirements-dev.lock"
  "$PYTHON" -m venv "$VENV"
  pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
  "${pip[@]}" install -q --require-hashes --only-binary :all: -r "$ROOT/requirements-dev.lock"
  "${pip[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
  echo "$stamp" >"$VENV/.installed"
fi

# System packages from Debian: chromium renders the HTML report in its test. Installed when
# missing and we are root (CI, a fresh machine); otherwise say what is missing.
need=()
command -v chromium >/dev/null || need+=(chromium fonts-dejavu-core)  # Cyrillic glyphs for the page
command -v promtool >/dev/null || need+=(prometheus)  # promtool: tests/deploy/test_prometheus_rules.py
command -v faketime >/dev/null || need+=(faketime)    # libfaketime: test.sh runs `pytest -m clock` on other days
command -v openssl >/dev/null || need+=(openssl)      # deploy/local/kafka.sh: the secure listeners' CA and certificates
if ((${#need[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing ${need[*]} (Debian packages)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    say "missing: ${need[*]} (install with apt-get); the tests need them"
  fi
fi

bash "$ROOT/deploy/local/kafka.sh" fetch
say "ready: $VENV/bin/sferum-kpi"
