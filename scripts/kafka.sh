#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for Boomerang, no Docker.
# The broker's jars come from Maven Central through Maven (scripts/kafka/pom.xml) and are cached.
# Run `scripts/kafka.sh help` for usage.
set -euo pipefail

readonly KAFKA_VERSION="4.3.1" # keep in step with kafka.version in scripts/kafka/pom.xml
readonly NODE_ID=1
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
readonly SCRIPT_DIR REPO_ROOT
readonly SUPPORT_DIR="$SCRIPT_DIR/kafka"
readonly POM="$SUPPORT_DIR/pom.xml"
readonly LOG4J2_CONFIG="$SUPPORT_DIR/log4j2.xml"
readonly PROBE="$SUPPORT_DIR/probe.py"

CACHE_ROOT="${BOOMERANG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/boomerang}"
readonly KAFKA_HOME_CACHE="$CACHE_ROOT/kafka-$KAFKA_VERSION"
readonly LIBS_DIR="$KAFKA_HOME_CACHE/libs"
readonly FETCH_MARKER="$KAFKA_HOME_CACHE/.fetched"

# Options (defaults from the environment).
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
DIR="${KAFKA_DIR:-$REPO_ROOT/build/kafka}"
TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
EXTRA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
SETTINGS=()

usage() {
  cat <<EOF
Usage: scripts/kafka.sh COMMAND [OPTIONS]

Local single-node Apache Kafka $KAFKA_VERSION (KRaft, broker+controller in one JVM).

Commands:
  fetch              resolve the broker's jars with Maven into the cache (no-op when cached)
  start              fetch if needed, format storage once, launch, wait until it serves requests
  stop               SIGTERM, wait up to 30 s, then SIGKILL
  status             print running/stopped (exit 0 when running, 1 when stopped)
  reset              stop and delete the data dir
  logs               tail -f the broker log
  run-class CLASS .. run a Kafka class with the cached classpath (e.g. kafka.tools.StorageTool info -c DIR/server.properties)
  help               this text

Options (start/stop/status/reset/logs):
  --port N             client listener port           (\$KAFKA_PORT, default 9092)
  --controller-port N  KRaft controller port          (\$KAFKA_CONTROLLER_PORT, default 9093)
  --dir PATH           data, config, logs and pid     (\$KAFKA_DIR, default build/kafka in the repo)
  --set KEY=VALUE      extra/overriding server.properties entry (repeatable)
  --timeout SECONDS    how long start waits for readiness (\$KAFKA_START_TIMEOUT, default 90)

Environment:
  BOOMERANG_CACHE_DIR  jar cache root (default ~/.cache/boomerang); jars go to kafka-$KAFKA_VERSION/libs
  KAFKA_HEAP_OPTS      JVM heap flags (default: -Xms256m -Xmx768m)
  KAFKA_JVM_OPTS       extra JVM flags, after the defaults (e.g. -XX:TieredStopAtLevel=4 for the full JIT)
  KAFKA_CLUSTER_ID     cluster id used when formatting a new dir (default: random)
  JAVA_HOME            Java 17+ to use (default: java on PATH)

On success, start prints the bootstrap address (127.0.0.1:PORT) as its last line.
EOF
}

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

parse_options() {
  while (($#)); do
    case "$1" in
      --port) PORT="${2:?--port needs a value}"; shift 2 ;;
      --port=*) PORT="${1#*=}"; shift ;;
      --controller-port) CONTROLLER_PORT="${2:?--controller-port needs a value}"; shift 2 ;;
      --controller-port=*) CONTROLLER_PORT="${1#*=}"; shift ;;
      --dir) DIR="${2:?--dir needs a value}"; shift 2 ;;
      --dir=*) DIR="${1#*=}"; shift ;;
      --set) SETTINGS+=("${2:?--set needs KEY=VALUE}"); shift 2 ;;
      --set=*) SETTINGS+=("${1#*=}"); shift ;;
      --timeout) TIMEOUT="${2:?--timeout needs a value}"; shift 2 ;;
      --timeout=*) TIMEOUT="${1#*=}"; shift ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown option: $1 (see scripts/kafka.sh help)" ;;
    esac
  done
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "--port must be a number, got '$PORT'"
  [[ "$CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "--controller-port must be a number, got '$CONTROLLER_PORT'"
  [[ "$PORT" != "$CONTROLLER_PORT" ]] || die "--port and --controller-port must differ"
  [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got '$TIMEOUT'"
  local kv
  for kv in ${SETTINGS[@]+"${SETTINGS[@]}"}; do
    [[ "$kv" == ?*=* ]] || die "--set expects KEY=VALUE, got '$kv'"
  done
  DIR="$(realpath -m "$DIR")"
  PROPS="$DIR/server.properties"
  PID_FILE="$DIR/kafka.pid"
  LOG_DIR="$DIR/logs"
  CLUSTER_ID_FILE="$DIR/cluster.id"
}

# ---------------------------------------------------------------------------------------------
# Java and jars

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null; then
    command -v java
  else
    die "java not found: Kafka $KAFKA_VERSION needs Java 17+ (e.g. apt-get install openjdk-17-jre-headless)"
  fi
}

check_java() {
  local java version major
  java="$(java_bin)"
  version="$("$java" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  major="${version%%.*}"
  [[ "$major" == 1 ]] && major="$(cut -d. -f2 <<<"$version")"
  [[ "$major" =~ ^[0-9]+$ && "$major" -ge 17 ]] ||
    die "Kafka $KAFKA_VERSION needs Java 17+, found '$version' at $java"
}

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

fetched() { [[ -f "$FETCH_MARKER" && "$(cat "$FETCH_MARKER")" == "$(pom_hash)" ]]; }

cmd_fetch() {
  if fetched; then
    log "jars already cached in $LIBS_DIR"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  mkdir -p "$KAFKA_HOME_CACHE"
  # Serialize concurrent fetches (parallel test workers); re-check once we hold the lock.
  exec 8>"$KAFKA_HOME_CACHE/.fetch.lock"
  flock 8
  if fetched; then
    exec 8>&-
    return 0
  fi
  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies with Maven..."
  local tmp="$KAFKA_HOME_CACHE/libs.tmp.$$" started=$SECONDS
  rm -rf "$tmp"
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$KAFKA_HOME_CACHE/fetch.log" 2>&1; then
    cat "$KAFKA_HOME_CACHE/fetch.log" >&2
    rm -rf "$tmp"
    die "maven could not resolve the Kafka jars (log above, also in $KAFKA_HOME_CACHE/fetch.log)"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  pom_hash >"$FETCH_MARKER"
  exec 8>&-
  log "cached $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS_DIR" | cut -f1)) in $LIBS_DIR in $((SECONDS - started)) s"
}

cmd_run_class() {
  (($#)) || die "run-class needs a class name"
  cmd_fetch
  check_java
  exec "$(java_bin)" -Dlog4j2.configurationFile="$LOG4J2_CONFIG" -Dkafka.logs.dir="${TMPDIR:-/tmp}" \
    -cp "$LIBS_DIR/*" "$@"
}

# ---------------------------------------------------------------------------------------------
# Process state

# The broker's pid if the pid file names a live kafka.Kafka process, else nothing (exit 1).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse after a reboot or a crash.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

# Advertised client address of the broker in $DIR (from its server.properties).
bootstrap_of_dir() {
  local port
  port="$(sed -n 's/^listeners=.*PLAINTEXT:\/\/[^:,]*:\([0-9]*\).*/\1/p' "$PROPS" 2>/dev/null | tail -1)"
  echo "127.0.0.1:${port:-$PORT}"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Serialize start/stop/reset on one dir (fd 9 is closed for the broker so it never holds it).
lock_dir() {
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock 9
}

# ---------------------------------------------------------------------------------------------
# Config and storage

write_properties() {
  local tmp="$PROPS.tmp"
  cat >"$tmp" <<EOF
# Written by scripts/kafka.sh on every start; edit with --set KEY=VALUE, not by hand.
process.roles=broker,controller
node.id=$NODE_ID
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
log.dirs=$DIR/data

# Single node: every internal topic with one replica.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Developer/test friendliness.
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=33554432
log.retention.check.interval.ms=60000
EOF
  local kv
  if ((${#SETTINGS[@]})); then
    printf '\n# --set overrides\n' >>"$tmp"
    for kv in "${SETTINGS[@]}"; do
      # Drop an earlier line for the same key so the file stays unambiguous.
      awk -v key="${kv%%=*}" 'index($0, key "=") != 1' "$tmp" >"$tmp.2"
      mv "$tmp.2" "$tmp"
      echo "$kv" >>"$tmp"
    done
  fi
  mv "$tmp" "$PROPS"
}

# Every directory in log.dirs (plus metadata.log.dir) holds meta.properties once formatted.
formatted() {
  local dirs dir
  dirs="$(sed -n 's/^log\.dirs=//p; s/^metadata\.log\.dir=//p' "$PROPS" | tr ',' '\n')"
  [[ -n "$dirs" ]] || return 1
  while IFS= read -r dir; do
    [[ -n "$dir" && -f "$dir/meta.properties" ]] || return 1
  done <<<"$dirs"
}

new_cluster_id() {
  # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding (what `random-uuid` prints),
  # never starting with "-", which command lines would read as an option (Kafka avoids it too).
  python3 -c 'import base64,uuid
while (u := base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()).startswith("-"): pass
print(u)' 2>/dev/null ||
    "$(java_bin)" -cp "$LIBS_DIR/*" kafka.tools.StorageTool random-uuid
}

format_storage() {
  local cluster_id
  if [[ -s "$CLUSTER_ID_FILE" ]]; then
    cluster_id="$(cat "$CLUSTER_ID_FILE")"
  else
    cluster_id="${KAFKA_CLUSTER_ID:-$(new_cluster_id)}"
    echo "$cluster_id" >"$CLUSTER_ID_FILE"
  fi
  log "formatting storage in $DIR (cluster id $cluster_id)"
  mkdir -p "$LOG_DIR"
  if ! "$(java_bin)" -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$LOG4J2_CONFIG" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$LIBS_DIR/*" kafka.tools.StorageTool format --standalone --ignore-formatted \
    -t "$cluster_id" -c "$PROPS" >"$LOG_DIR/format.out" 2>&1; then
    cat "$LOG_DIR/format.out" >&2
    die "formatting storage failed"
  fi
}

cluster_id_of_dir() {
  local dir
  dir="$(sed -n 's/^log\.dirs=//p' "$PROPS" | cut -d, -f1)"
  sed -n 's/^cluster\.id=//p' "$dir/meta.properties" 2>/dev/null || cat "$CLUSTER_ID_FILE"
}

# ---------------------------------------------------------------------------------------------
# Commands

log_tail() {
  local f
  for f in "$LOG_DIR/kafka.out" "$LOG_DIR/server.log"; do
    [[ -s "$f" ]] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 40 "$f" >&2
  done
}

# Wait until the broker in $DIR answers Kafka requests as a member of its own cluster.
wait_ready() {
  local pid="$1" bootstrap="$2" cluster_id node_id deadline=$((SECONDS + TIMEOUT)) why=""
  cluster_id="$(cluster_id_of_dir)"
  node_id="$(sed -n 's/^node\.id=//p' "$PROPS" | tail -1)"
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail
      rm -f "$PID_FILE"
      die "broker exited during startup (logs in $LOG_DIR)"
    fi
    if command -v python3 >/dev/null; then
      if why="$(python3 "$PROBE" "${bootstrap%:*}" "${bootstrap##*:}" --cluster-id "$cluster_id" \
        --node-id "${node_id:-$NODE_ID}" --timeout 2 2>&1)"; then
        return 0
      fi
    elif grep -q 'Kafka Server started' "$LOG_DIR/server.log" 2>/dev/null && port_in_use "${bootstrap##*:}"; then
      return 0
    fi
    sleep 0.3
  done
  log_tail
  log "last probe: ${why:-none}"
  log "stopping broker pid $pid, which did not become ready"
  stop_pid "$pid"
  die "broker not ready on $bootstrap after ${TIMEOUT}s (logs in $LOG_DIR)"
}

# Replace this (background sub)shell with the broker JVM, in its own session, holding no fd of
# ours beyond stdin/stdout/stderr (no lock, no pipe a caller may be waiting on).
launch_broker() {
  local fd
  for fd in /proc/self/fd/*; do
    fd="${fd##*/}"
    ((fd > 2)) && eval "exec $fd>&-"
  done
  # C1-only JIT (TieredStopAtLevel=1) about halves startup on a 2-core machine; a dev/test broker
  # never needs C2's peak speed. KAFKA_JVM_OPTS comes last, so -XX:TieredStopAtLevel=4 there wins.
  # shellcheck disable=SC2086 # HEAP_OPTS / EXTRA_JVM_OPTS are flag lists.
  exec setsid "$(java_bin)" $HEAP_OPTS \
    -server -XX:TieredStopAtLevel=1 -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.shutdownHookEnabled=false \
    -Dlog4j2.configurationFile="$LOG4J2_CONFIG" -Dkafka.logs.dir="$LOG_DIR" \
    $EXTRA_JVM_OPTS \
    -cp "$LIBS_DIR/*" kafka.Kafka "$PROPS"
}

cmd_start() {
  parse_options "$@"
  lock_dir
  local pid started=$SECONDS
  if pid="$(running_pid)"; then
    local running
    running="$(bootstrap_of_dir)"
    [[ "$running" == "127.0.0.1:$PORT" ]] ||
      die "already running in $DIR on $running, not on port $PORT: stop it first"
    log "already running (pid $pid) in $DIR"
    wait_ready "$pid" "$running"
    echo "$running"
    return 0
  fi
  rm -f "$PID_FILE"
  cmd_fetch
  check_java
  local p
  for p in "$PORT" "$CONTROLLER_PORT"; do
    port_in_use "$p" && die "port $p on 127.0.0.1 is already in use by another process"
  done
  mkdir -p "$LOG_DIR"
  write_properties
  formatted || format_storage

  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$PORT (controller $CONTROLLER_PORT), dir $DIR"
  launch_broker </dev/null >>"$LOG_DIR/kafka.out" 2>&1 &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid" "127.0.0.1:$PORT"
  log "ready in $((SECONDS - started)) s (pid $pid)"
  echo "127.0.0.1:$PORT"
}

stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "pid $pid did not exit within 30 s of SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

cmd_stop() {
  parse_options "$@"
  if [[ ! -d "$DIR" ]]; then
    log "not running in $DIR (no such dir)"
    return 0
  fi
  lock_dir
  local pid
  if pid="$(running_pid)"; then
    log "stopping broker pid $pid in $DIR"
    stop_pid "$pid"
  else
    log "not running in $DIR"
  fi
  rm -f "$PID_FILE"
}

cmd_status() {
  parse_options "$@"
  local pid
  if pid="$(running_pid)"; then
    echo "running (pid $pid, bootstrap $(bootstrap_of_dir), dir $DIR)"
    return 0
  fi
  echo "stopped (dir $DIR)"
  return 1
}

cmd_reset() {
  parse_options "$@"
  case "$DIR" in
    / | "$HOME" | "$REPO_ROOT" | "$CACHE_ROOT") die "refusing to delete $DIR" ;;
  esac
  cmd_stop "$@"
  exec 9>&-
  log "deleting $DIR"
  rm -rf "$DIR"
}

cmd_logs() {
  parse_options "$@"
  exec tail -n 100 -F "$LOG_DIR/server.log"
}

main() {
  local cmd="${1:-help}"
  (($#)) && shift
  case "$cmd" in
    fetch) cmd_fetch ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    reset) cmd_reset "$@" ;;
    logs) cmd_logs "$@" ;;
    run-class) cmd_run_class "$@" ;;
    help | -h | --help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
