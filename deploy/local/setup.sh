#!/usr/bin/env bash
# Set up a fresh machine for sferum-kpi: the Python venv with the pinned packages, and the Kafka
# jars (from Maven Central, cached outside the repo). Idempotent and quick when nothing changed.
#
# usage: deploy/local/setup.sh        env: PYTHON (python3.11), SFERUM_VENV (<repo>/.venv)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${SFERUM_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3.11}

say() { echo "setup: $*" >&2; }

command -v "$PYTHON" >/dev/null || { say "$PYTHON not found: sferum-kpi needs Python 3.11"; exit 1; }
command -v java >/dev/null || { say "java not found: the local Kafka broker needs Java 17+"; exit 1; }

# Reinstall only when pyproject.toml changed since the last successful install.
stamp=$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || ! -f $VENV/.installed || $(<"$VENV/.installed") != "$stamp" ]]; then
  say "creating $VENV and installing sferum-kpi with its dev extras"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[dev]"
  echo "$stamp" >"$VENV/.installed"
fi

# System packages from Debian: chromium renders the HTML report in its test. Installed when
# missing and we are root (CI, a fresh machine); otherwise say what is missing.
need=()
command -v chromium >/dev/null || need+=(chromium fonts-dejavu-core)  # Cyrillic glyphs for the page
command -v promtool >/dev/null || need+=(prometheus)  # promtool: tests/unit/test_prometheus_rules.py
command -v faketime >/dev/null || need+=(faketime)    # libfaketime: test.sh runs `pytest -m clock` on other days
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
