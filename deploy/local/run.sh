#!/usr/bin/env bash
# Set up, start the local Kafka broker (127.0.0.1:9092) and run the sferum-kpi worker on the
# embedded defaults (ClickHouse in-process, data under ~/.local/share/sferum-kpi). Ctrl-C stops it.
#
# usage: deploy/local/run.sh [WORKER ARGS...]      e.g. deploy/local/run.sh --drain
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${SFERUM_VENV:-$ROOT/.venv}

bash "$ROOT/deploy/local/setup.sh"
bash "$ROOT/deploy/local/kafka.sh" start
echo "run.sh: worker starting; in another shell: $VENV/bin/sferum-kpi produce FILE.ndjson" >&2
exec "$VENV/bin/sferum-kpi" --log-level info worker "$@"
