#!/usr/bin/env bash
# Set up, start a local Kafka broker for the tests (port 19092, and 19094/19095 for its SASL_SSL
# and SSL listeners: below the ephemeral range 32768-60999, so no client socket can hold them when
# the broker binds), run every test, stop it.
# Integration tests never skip: a broker that cannot start is a failure.
#
# A full run (no arguments) runs the slow scenarios (SLOW below: they mostly wait on workers,
# timers and Kafka) in a second pytest beside the rest, against a second broker (port + 100), so
# that a scenario that restarts its broker disturbs no other test. Both must pass.
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
stop=()
if ! kafka status >/dev/null 2>&1; then
  kafka start --fresh
  stop+=(kafka)
fi
trap 'for f in "${stop[@]}"; do $f stop; done' EXIT

cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/mypy"
if (($# > 0)); then
  "$VENV/bin/python" -m pytest "$@"
  exit
fi

SLOW=(tests/integration/test_faults.py tests/integration/test_dead_letter_tools.py
  tests/integration/test_four_topics.py)
SLOW_PORT=$((SFERUM_TEST_KAFKA_PORT + 100))
slow_kafka() { SFERUM_TEST_KAFKA_PORT=$SLOW_PORT SFERUM_TEST_KAFKA_SASL_SSL_PORT=$((SLOW_PORT + 2)) \
  SFERUM_TEST_KAFKA_SSL_PORT=$((SLOW_PORT + 3)) "$@"; }
slow_broker() { slow_kafka kafka "$@"; }
slow_broker start --fresh
stop+=(slow_broker)
slow_log=$(mktemp -t sferum-slow-tests.XXXXXX.log)
slow_tmp=$(mktemp -d -t sferum-slow-tests.XXXXXX)
echo "test.sh: ${SLOW[*]} run beside the rest, on the broker at $SLOW_PORT (output at the end)" >&2
slow_kafka "$VENV/bin/python" -m pytest -p no:cacheprovider --basetemp="$slow_tmp" "${SLOW[@]}" >"$slow_log" 2>&1 &
slow_pid=$!

status=0
deselect=()
for file in "${SLOW[@]}"; do deselect+=(--ignore="$file"); done
"$VENV/bin/python" -m pytest "${deselect[@]}" || status=$?

# The date-sensitive tests (marker `clock`) again with the clock moved by libfaketime, for this
# process tree only (the broker keeps the real time): to a Monday 00:30 and a Tuesday 17:00 Moscow
# time, and into school holidays (tests/support/clocks.py says which).
lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n1)
[[ -n $lib ]] || { echo "test.sh: libfaketime not found (Debian package faketime)" >&2; exit 1; }
while read -r name offset instant; do
  echo "test.sh: pytest -m clock with the clock at $name ($instant, ${offset} s from now)" >&2
  TZ=UTC FAKETIME=$offset LD_PRELOAD=$lib "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m clock \
    "${deselect[@]}" || status=$?
done < <("$VENV/bin/python" -m tests.support.clocks)

slow_status=0
wait "$slow_pid" || slow_status=$?
echo "test.sh: ${SLOW[*]} (broker $SLOW_PORT):" >&2
cat "$slow_log"
rm -rf "$slow_log" "$slow_tmp"
if ((status != 0 || slow_status != 0)); then
  echo "test.sh: FAILED (the rest: exit $status; the slow scenarios: exit $slow_status)" >&2
  exit 1
fi
