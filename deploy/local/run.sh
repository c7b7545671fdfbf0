#!/usr/bin/env bash
# The demo, on a fresh machine, on the embedded defaults: set up, start the local Kafka broker,
# generate the seed's Орловская область (`generate --profile orel`), produce it to Kafka, run the
# worker until it has drained the input, load the registry and print the region's report (and
# write it as HTML, JSON and, with Chromium, PDF). Run it again: the same events are produced
# again and count once.
#
# usage: deploy/local/run.sh [--worker]     --worker: afterwards keep the worker running (Ctrl-C stops)
# env:   SFERUM_DEMO_DIR (default ~/.local/share/sferum-kpi/demo), any SFERUM_* setting
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${SFERUM_VENV:-$ROOT/.venv}
DEMO=${SFERUM_DEMO_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/sferum-kpi/demo}
KPI=("$VENV/bin/sferum-kpi" --log-level warning)
# The demo produces eight weeks at once through the four default topics (one per event type):
# the worker applies them in event-time order (docs/events.md).
say() { echo "run.sh: $*" >&2; }

if [[ -s $DEMO/events.ndjson && ! -f $DEMO/registry/staff.csv ]]; then
  say "$DEMO was generated before staff.csv existed; start over: see docs/indicators.md (A store made before staff.csv)"
  exit 2
fi
bash "$ROOT/deploy/local/setup.sh"
bash "$ROOT/deploy/local/kafka.sh" start
# the broker just started (kafka.sh's port: SFERUM_KAFKA_PORT), unless SFERUM_BROKER names another
export SFERUM_BROKER=${SFERUM_BROKER:-kafka://127.0.0.1:${SFERUM_KAFKA_PORT:-9092}}

if [[ ! -s $DEMO/events.ndjson ]]; then
  say "generating Орловская область into $DEMO"
  "${KPI[@]}" generate --profile orel "$DEMO"
fi
say "producing the events to Kafka"
"${KPI[@]}" produce "$DEMO/events.ndjson"
say "running the worker until the input is drained (a few minutes)"
"${KPI[@]}" worker --drain
say "loading the registry"
"${KPI[@]}" load-registry "$DEMO/registry"
"${KPI[@]}" report --html "$DEMO/report.html"
"${KPI[@]}" report --format json --output "$DEMO/report.json"
if command -v chromium >/dev/null || [[ -n ${SFERUM_CHROMIUM:-} ]]; then
  "${KPI[@]}" report --format pdf --output "$DEMO/report.pdf"
fi
say "report page: $DEMO/report.html (also report.json, report.pdf)"
if [[ ${1:-} == --worker ]]; then
  exec "${KPI[@]}" worker
fi
