#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1 for
# development and tests. No Docker and no tarball: the jars come from Maven Central via
# `mvn dependency:copy-dependencies` (deploy/local/kafka/pom.xml) into a cache outside the repo.
#
# usage: kafka.sh fetch | start [--fresh] | stop | restart | kill | status
#                 | bootstrap-servers | client-env [sasl_ssl|ssl] | tool CLASS [ARGS...]
# env:   KAFKA_VERSION (4.2.0), SFERUM_KAFKA_PORT (9092), SFERUM_KAFKA_CONTROLLER_PORT (PORT+1),
#        SFERUM_KAFKA_SASL_SSL_PORT, SFERUM_KAFKA_SSL_PORT (secure listeners, off when unset),
#        SFERUM_KAFKA_CACHE, SFERUM_KAFKA_DATA, KAFKA_HEAP_OPTS (-Xmx512m),
#        SFERUM_KAFKA_START_TIMEOUT (90 s), JAVA_HOME
#
# Secure listeners (docs/security.md): with SFERUM_KAFKA_SASL_SSL_PORT the broker also listens
# with SASL_SSL (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN; user `sferum`, created at format time), with
# SFERUM_KAFKA_SSL_PORT with SSL and required client certificates. A CA and the certificates are
# made in the data dir at the first start; `client-env` prints a client's SFERUM_* settings. The
# ports are remembered in the data dir: a later start or restart without them keeps the listeners.
set -euo pipefail

SUPPORT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka
KAFKA_VERSION=${KAFKA_VERSION:-4.2.0}
CACHE=${SFERUM_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sferum-kpi/kafka-$KAFKA_VERSION}
LIBS=$CACHE/libs
PORT=${SFERUM_KAFKA_PORT:-9092}
CPORT=${SFERUM_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
DATA=${SFERUM_KAFKA_DATA:-$CACHE/run-$PORT}
PROPS=$DATA/server.properties
SEC=$DATA/security
SECURE_PORTS=$DATA/secure-ports.env
PIDFILE=$DATA/kafka.pid
OUT=$DATA/kafka.out          # JVM stdout/stderr; log4j writes $DATA/server.log
START_TIMEOUT=${SFERUM_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=30
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
FETCH_TMP=
SUPPORT_DIR=$SUPPORT

say() { echo "kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }
usage() {
  echo "usage: kafka.sh {fetch|start [--fresh]|stop|restart|kill|status|bootstrap-servers|client-env [sasl_ssl|ssl]" \
    "|tool CLASS [ARGS...]}" >&2
  exit 2
}

# shellcheck source=deploy/local/kafka/security.sh
. "$SUPPORT_DIR/security.sh"

# The secure listeners' ports: from the environment, else as the data dir remembers them.
secure_ports() {
  SASL_PORT=${SFERUM_KAFKA_SASL_SSL_PORT-}
  SSL_PORT=${SFERUM_KAFKA_SSL_PORT-}
  if [[ -z ${SFERUM_KAFKA_SASL_SSL_PORT+set}${SFERUM_KAFKA_SSL_PORT+set} && -f $SECURE_PORTS ]]; then
    # shellcheck disable=SC1090
    . "$SECURE_PORTS"
  fi
  for p in "$SASL_PORT" "$SSL_PORT"; do
    [[ -z $p || $p =~ ^[0-9]+$ ]] || die "bad port $p"
  done
}

# A CLI tool JVM (StorageTool, TopicCommand, console clients): small heap and C1-only JIT,
# because these are short-lived and startup time dominates.
TOOL=("$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  -Dlog4j2.configurationFile="$SUPPORT/tools-log4j2.properties" -cp "$LIBS/*")
tool() { "${TOOL[@]}" "$@"; }

# The completion marker holds a hash of version + pom, so editing the pom refetches.
stamp() { { echo "$KAFKA_VERSION"; cat "$SUPPORT/pom.xml"; } | sha256sum | cut -d' ' -f1; }

fetch() {
  [[ -f $LIBS/.complete && $(<"$LIBS/.complete") == "$(stamp)" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (needed once, to fetch the Kafka jars)"
  say "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  mkdir -p "$CACHE"
  # Build into a temp dir next to the cache and rename it into place at the end, so an
  # interrupted fetch never leaves a half-filled libs/ that looks usable.
  FETCH_TMP=$(mktemp -d "$CACHE/.fetch.XXXXXX")
  trap 'rm -rf "$FETCH_TMP"' EXIT
  # libs.build.dir keeps Maven from creating target/ inside the repo. Output is captured
  # (shown only on failure): Maven 3.8 -q still emits stray ANSI escapes.
  mvn -q -B -Dstyle.color=never -f "$SUPPORT/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -Dkafka.version="$KAFKA_VERSION" -Dlibs.build.dir="$FETCH_TMP/build" \
    -DoutputDirectory="$FETCH_TMP/libs" >"$FETCH_TMP/mvn.log" 2>&1 \
    || { cat "$FETCH_TMP/mvn.log" >&2; die "mvn dependency:copy-dependencies failed"; }
  stamp >"$FETCH_TMP/libs/.complete"
  # Install unless a concurrent fetch already did. A libs/ with another stamp (pom edited)
  # is replaced; a broker still running from it keeps the jars it has open.
  if [[ $(cat "$LIBS/.complete" 2>/dev/null) != "$(stamp)" ]]; then
    [[ -d $LIBS ]] && mv -T "$LIBS" "$FETCH_TMP/stale"
    # mv -T never moves *into* an existing dir: if another fetch won the race, keep its copy.
    mv -T "$FETCH_TMP/libs" "$LIBS" 2>/dev/null || [[ -f $LIBS/.complete ]] || die "cannot install $LIBS"
  fi
  rm -rf "$FETCH_TMP"; trap - EXIT
  say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars"
}

# True if the pid file names a live JVM that this script started for this data dir
# (checked via its command line, so a recycled pid is never mistaken for the broker).
running() {
  [[ -f $PIDFILE ]] || return 1
  local pid cmd
  pid=$(<"$PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *"kafka.Kafka $PROPS"* ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local fresh=${1:-}
  [[ -z $fresh || $fresh == --fresh ]] || usage
  if running; then
    [[ $fresh ]] || { say "already running (pid $(<"$PIDFILE")) on 127.0.0.1:$PORT"; return 0; }
    stop
  fi
  fetch
  secure_ports
  for p in "$PORT" "$CPORT" $SASL_PORT $SSL_PORT; do
    port_open "$p" && die "port $p is in use by another process (not a broker from this script)"
  done
  if [[ $fresh && -d $DATA ]]; then
    # Only wipe something that looks like ours: SFERUM_KAFKA_DATA could point anywhere.
    [[ -f $PROPS || -z $(ls -A "$DATA") ]] || die "refusing to wipe $DATA: no server.properties in it"
    say "wiping $DATA"
    rm -rf "$DATA"
  fi
  mkdir -p "$DATA"
  (
    umask 077  # with secure listeners it holds the keystore password
    sed -e "s|@PORT@|$PORT|g" -e "s|@CPORT@|$CPORT|g" -e "s|@DATA@|$DATA|g" \
      "$SUPPORT/server.properties.in" >"$PROPS"
  )
  local scram=()
  if [[ -n $SASL_PORT$SSL_PORT ]]; then
    if [[ -f $DATA/kraft-logs/meta.properties && -n $SASL_PORT && ! -f $SEC/.complete ]]; then
      die "$DATA was formatted without the SASL user: start it with --fresh to add the SASL_SSL listener"
    fi
    make_security_material
    # The secure listeners replace the template's listener lines.
    sed -i -e '/^listeners=/d' -e '/^advertised.listeners=/d' -e '/^listener.security.protocol.map=/d' "$PROPS"
    security_properties >>"$PROPS"
    printf 'SASL_PORT=%s\nSSL_PORT=%s\n' "$SASL_PORT" "$SSL_PORT" >"$SECURE_PORTS"
    if [[ -n $SASL_PORT ]]; then mapfile -t scram < <(scram_format_args); fi
  else
    rm -f "$SECURE_PORTS"
  fi

  if [[ ! -f $DATA/kraft-logs/meta.properties ]]; then
    # Static voters (controller.quorum.voters) => format with just a cluster id; --standalone
    # is only for the dynamic-quorum setup. A Kafka Uuid is 16 random bytes in unpadded
    # base64url, which is exactly what this produces (same as `StorageTool random-uuid`).
    local cluster_id
    # 16 random bytes, base64url like Kafka's own ids; a leading '-' would read as an option.
    cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    cluster_id=${cluster_id/#-/A}
    say "formatting storage (cluster id $cluster_id)"
    tool kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$PROPS" "${scram[@]}" >>"$OUT" 2>&1 \
      || { tail -n 20 "$OUT" >&2; die "storage format failed"; }
  fi

  local heap
  read -ra heap <<<"${KAFKA_HEAP_OPTS:--Xmx512m -Xms128m}"
  say "starting broker on 127.0.0.1:$PORT (controller $CPORT), data in $DATA"
  rm -f "$PIDFILE"
  # setsid: own session, so the broker outlives this shell and ignores ^C/SIGHUP sent to the
  # caller's terminal. The inner bash records its pid and execs java, so the pid is the JVM's.
  nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
    "$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$DATA" -Dlog4j2.configurationFile="$SUPPORT/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" </dev/null >>"$OUT" 2>&1 &

  # Ready = port accepts connections AND a real admin request (list topics) succeeds.
  local t0=$SECONDS
  while :; do
    if (( SECONDS - t0 > START_TIMEOUT )); then
      say "broker not ready after ${START_TIMEOUT}s; last lines of $DATA/server.log:"
      tail -n 30 "$DATA/server.log" "$OUT" >&2 2>/dev/null || true
      running && kill -KILL "$(<"$PIDFILE")"
      exit 1
    fi
    if (( SECONDS - t0 > 2 )) && ! running; then
      say "broker exited during startup; last lines of its logs:"
      tail -n 30 "$DATA/server.log" "$OUT" >&2 2>/dev/null || true
      exit 1
    fi
    if port_open "$PORT" && timeout 20 "${TOOL[@]}" org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "127.0.0.1:$PORT" --list >/dev/null 2>>"$OUT"; then
      break
    fi
    sleep 0.5
  done
  local extra=""
  [[ -n $SASL_PORT ]] && extra+=", SASL_SSL on $SASL_PORT"
  [[ -n $SSL_PORT ]] && extra+=", SSL on $SSL_PORT"
  say "ready on 127.0.0.1:$PORT$extra (pid $(<"$PIDFILE"), $((SECONDS - t0))s)"
}

# signal_and_wait SIGNAL SECONDS: send SIGNAL, wait up to SECONDS for the JVM to be gone.
signal_and_wait() {
  kill "-$1" "$(<"$PIDFILE")" 2>/dev/null || true
  local i
  for ((i = 0; i < $2 * 4; i++)); do running || return 0; sleep 0.25; done
  return 1
}

stop() {
  running || { say "not running on port $PORT"; rm -f "$PIDFILE"; return 0; }
  say "stopping broker (pid $(<"$PIDFILE"))"
  # SIGTERM = controlled shutdown (flushes logs, clean-shutdown marker => no recovery on start).
  if ! signal_and_wait TERM "$STOP_TIMEOUT"; then
    say "no clean exit after ${STOP_TIMEOUT}s, sending SIGKILL"
    signal_and_wait KILL 10 || die "pid $(<"$PIDFILE") survived SIGKILL"
  fi
  rm -f "$PIDFILE"
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
  fetch) fetch ;;
  start) start "$@" ;;
  stop) stop ;;
  restart) stop; start ;;
  kill)   # crash simulation for fault tests: no controlled shutdown, data left as is
    running || { say "not running on port $PORT"; exit 0; }
    say "killing broker (pid $(<"$PIDFILE")) with SIGKILL"
    signal_and_wait KILL 10 || die "pid $(<"$PIDFILE") survived SIGKILL"
    rm -f "$PIDFILE" ;;
  status)
    if running; then echo "running (pid $(<"$PIDFILE")) on 127.0.0.1:$PORT"; else echo "not running"; exit 1; fi ;;
  bootstrap-servers) echo "127.0.0.1:$PORT" ;;
  client-env)   # e.g. env $(kafka.sh client-env sasl_ssl) sferum-kpi worker
    secure_ports
    [[ -f $SEC/.complete ]] || die "no TLS material in $SEC: start the broker with a secure listener first"
    client_env "$@" ;;
  tool)   # run a Kafka CLI class against the cached jars, e.g. tool org.apache.kafka.tools.TopicCommand ...
    [[ $# -gt 0 ]] || usage
    fetch; tool "$@" ;;
  *) usage ;;
esac
