#!/usr/bin/env bash
# Set up, start a local Kafka broker for the tests (port 19092, and 19094/19095 for its SASL_SSL
# and SSL listeners: below the ephemeral range 32768-60999, so no client socket can hold them when
# the broker binds), run every test, stop it.
# Integration tests never skip: a broker that cannot start is a failure.
#
# usage: deploy/local/test.sh [PYTEST ARGS...]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${SFERUM_VENV:-$ROOT/.venv}
export SFERUM_TEST_KAFKA_PORT=${SFERUM_TEST_KAFKA_PORT:-19092}
# The secure listeners (SASL_SSL, SSL with client certificates) of tests/integration/test_kafka_security.py.
export SFERUM_TEST_KAFKA_SASL_SSL_PORT=${SFERUM_TEST_KAFKA_SASL_SSL_PORT:-$((SFERUM_TEST_KAFKA_PORT + 2))}
export SFERUM_TEST_KAFKA_SSL_PORT=${SFERUM_TEST_KAFKA_SSL_PORT:-$((SFERUM_TEST_KAFKA_PORT + 3))}

bash "$ROOT/deploy/local/setup.sh"

kafka() {
  SFERUM_KAFKA_PORT=$SFERUM_TEST_KAFKA_PORT SFERUM_KAFKA_SASL_SSL_PORT=$SFERUM_TEST_KAFKA_SASL_SSL_PORT \
    SFERUM_KAFKA_SSL_PORT=$SFERUM_TEST_KAFKA_SSL_PORT bash "$ROOT/deploy/local/kafka.sh" "$@"
}
if ! kafka status >/dev/null 2>&1; then
  kafka start --fresh
  trap 'kafka stop' EXIT
fi

cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/mypy"
"$VENV/bin/python" -m pytest "$@"

# A full run also runs the date-sensitive tests (marker `clock`) with the clock moved by
# libfaketime, for this process tree only (the broker keeps the real time): to a Monday 00:30 and
# a Tuesday 17:00 Moscow time, and into school holidays (tests/support/clocks.py says which).
if (($# == 0)); then
  lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n1)
  [[ -n $lib ]] || { echo "test.sh: libfaketime not found (Debian package faketime)" >&2; exit 1; }
  while read -r name offset instant; do
    echo "test.sh: pytest -m clock with the clock at $name ($instant, ${offset} s from now)" >&2
    TZ=UTC FAKETIME=$offset LD_PRELOAD=$lib "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m clock
  done < <("$VENV/bin/python" -m tests.support.clocks)
fi
