#!/usr/bin/env bash
# The local stack for iocmon, without Docker: Kafka 4.0 (one KRaft node, jars from Maven Central run
# by the machine's Java 17), Redis, Prometheus and Alertmanager (Debian packages).
#
#   deploy/local/stack.sh up       start what is not running, wait until all answer, create topics
#   deploy/local/stack.sh down     stop everything this stack started (data is kept)
#   deploy/local/stack.sh status   one line per service; exit 0 when all run, 3 otherwise
#   deploy/local/stack.sh reset    down, then delete data and logs (the jar cache is kept)
#   deploy/local/stack.sh install  install what the stack and the tests need (packages, Kafka
#                                  jars, promtool, amtool, systemd-analyze, helm), start nothing;
#                                  `make test` runs it first
#
# Settings (environment, defaults in brackets):
#   IOCMON_LOCAL_DIR [<repo>/.local]   data/<service>, logs/<service>.log, run/<service>.pid, configs
#   IOCMON_CACHE_DIR [<repo>/.cache]   Kafka jars resolved by mvn, helm built by go, reused across runs
#   GO [go on PATH, else /usr/local/go/bin/go]  the Go toolchain that builds helm (install only)
#   KAFKA_PORT [9092]  KAFKA_CONTROLLER_PORT [9093]  REDIS_PORT [6379]
#   PROMETHEUS_PORT [9090]  ALERTMANAGER_PORT [9095]  IOCMON_NOTIFY_PORT [6067] (scraped as iocmon-notify)
#   IOCMON_EVENTS_TOPIC [dossier-events]  IOCMON_DLQ_TOPIC [dossier-events-dlq]
#   IOCMON_ALERTS_TOPIC [dossier-alerts]  IOCMON_EVENT_PARTITIONS [12]
#   IOCMON_SCRAPE_TARGETS [127.0.0.1:6066] seeds <local>/prometheus/targets.json if it is missing
#   IOCMON_RULES_GLOB [<repo>/deploy/prometheus/*.rules.yml]
#   IOCMON_STACK_TIMEOUT [120]         seconds to wait for each service to answer
#   KAFKA_HEAP_OPTS [-Xms256m -Xmx768m]
# Everything listens on 127.0.0.1 only. Two stacks run side by side when their local dirs and
# ports differ (the tests use IOCMON_LOCAL_DIR=<repo>/.local/test and ports of their own).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

LOCAL_DIR="${IOCMON_LOCAL_DIR:-$REPO/.local}"
CACHE_DIR="${IOCMON_CACHE_DIR:-$REPO/.cache}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
REDIS_PORT="${REDIS_PORT:-6379}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
ALERTMANAGER_PORT="${ALERTMANAGER_PORT:-9095}"
NOTIFY_PORT="${IOCMON_NOTIFY_PORT:-6067}"
EVENTS_TOPIC="${IOCMON_EVENTS_TOPIC:-dossier-events}"
DLQ_TOPIC="${IOCMON_DLQ_TOPIC:-dossier-events-dlq}"
ALERTS_TOPIC="${IOCMON_ALERTS_TOPIC:-dossier-alerts}"
EVENT_PARTITIONS="${IOCMON_EVENT_PARTITIONS:-12}"
SIDE_PARTITIONS=3
SCRAPE_TARGETS="${IOCMON_SCRAPE_TARGETS:-127.0.0.1:6066}"
# shellcheck disable=SC2034 # used through render's indirect expansion
RULES_GLOB="${IOCMON_RULES_GLOB:-$REPO/deploy/prometheus/*.rules.yml}"
TIMEOUT="${IOCMON_STACK_TIMEOUT:-120}"
STOP_GRACE=20
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"

SERVICES=(kafka redis alertmanager prometheus) # start order; stop runs in reverse
KAFKA_POM="$HERE/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
TOOL_JVM_OPTS=(-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx256m -Xlog:cds=off -Xlog:cds+dynamic=off
  "-Dlog4j.configuration=file:$HERE/kafka/tools-log4j.properties")

# ---------------------------------------------------------------------------------------------
# small helpers

say() { printf '%s\n' "$*"; }
warn() { printf 'stack.sh: warning: %s\n' "$*" >&2; }
die() {
  printf 'stack.sh: %s\n' "$*" >&2
  exit 1
}

# microseconds since the epoch, and a duration in seconds with one decimal
now_us() { echo "${EPOCHREALTIME/./}"; }
since() {
  local us=$(($(now_us) - $1))
  printf '%d.%ds' $((us / 1000000)) $((us / 100000 % 10))
}

is_port() { [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0 && $1 < 65536)); }

port_of() {
  case $1 in
  kafka) echo "$KAFKA_PORT" ;;
  redis) echo "$REDIS_PORT" ;;
  prometheus) echo "$PROMETHEUS_PORT" ;;
  alertmanager) echo "$ALERTMANAGER_PORT" ;;
  esac
}
port_var_of() {
  case $1 in
  kafka) echo KAFKA_PORT ;;
  redis) echo REDIS_PORT ;;
  prometheus) echo PROMETHEUS_PORT ;;
  alertmanager) echo ALERTMANAGER_PORT ;;
  esac
}

log_of() { echo "$LOCAL_DIR/logs/$1.log"; }
pidfile_of() { echo "$LOCAL_DIR/run/$1.pid"; }

# Something accepts TCP connections on 127.0.0.1:$1.
tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# The start time of a process (field 22 of /proc/PID/stat), so that a pid file never
# points at an unrelated process that reused the pid after a reboot or a crash.
start_time_of() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# Prints the pid of the running service, or fails when it is not running.
pid_of() {
  local file pid started now
  file="$(pidfile_of "$1")"
  [[ -f $file ]] || return 1
  read -r pid started _ <"$file" || true
  [[ -n ${pid:-} && -n ${started:-} ]] || return 1
  now="$(start_time_of "$pid")" || return 1
  [[ $now == "$started" ]] || return 1
  # a zombie (exited, not yet reaped) is not running
  [[ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$pid/status" 2>/dev/null)" != Z ]] || return 1
  echo "$pid"
}

# The port a running service was started with (its pid file keeps it), so that `status` and
# `down` find it whatever the environment says now.
started_port_of() {
  local pid started port
  read -r pid started port <"$(pidfile_of "$1")" 2>/dev/null || true
  echo "${port:-$(port_of "$1")}"
}

# The service answers requests on port $2 (not only that its process exists).
answers() {
  local port="${2:-$(port_of "$1")}"
  case $1 in
  kafka) tcp_open "$port" ;;
  redis) [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]] ;;
  prometheus | alertmanager) curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null ;;
  esac
}

# Replaces @NAME@ in a template with the value of the shell variable NAME.
render() {
  local template=$1 out=$2 text name
  shift 2
  text="$(<"$template")"
  for name in "$@"; do
    text="${text//"@$name@"/"${!name}"}"
  done
  printf '%s\n' "$text" >"$out.tmp"
  mv -f "$out.tmp" "$out"
}

show_log_tail() {
  local log
  log="$(log_of "$1")"
  if [[ -s $log ]]; then
    printf -- '----- last 30 lines of %s -----\n' "$log" >&2
    tail -n 30 "$log" >&2
    printf -- '-----\n' >&2
  else
    printf '(%s is empty)\n' "$log" >&2
  fi
}

check_settings() {
  local var seen=" " p
  for var in KAFKA_PORT KAFKA_CONTROLLER_PORT REDIS_PORT PROMETHEUS_PORT ALERTMANAGER_PORT; do
    p="${!var}"
    is_port "$p" || die "$var=$p is not a port number"
    [[ $seen != *" $p "* ]] || die "$var=$p is also used by another service of the stack; give each a port of its own"
    seen+="$p "
  done
  [[ $EVENT_PARTITIONS =~ ^[1-9][0-9]*$ ]] || die "IOCMON_EVENT_PARTITIONS=$EVENT_PARTITIONS is not a positive number"
  [[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "IOCMON_STACK_TIMEOUT=$TIMEOUT is not a positive number of seconds"
  local t
  for t in "$EVENTS_TOPIC" "$DLQ_TOPIC" "$ALERTS_TOPIC"; do
    [[ $t =~ ^[A-Za-z0-9._-]{1,249}$ ]] || die "topic name '$t' is not valid for Kafka (letters, digits, . _ -)"
  done
}

make_dirs() {
  mkdir -p "$LOCAL_DIR" || die "cannot create IOCMON_LOCAL_DIR=$LOCAL_DIR"
  LOCAL_DIR="$(cd "$LOCAL_DIR" && pwd)"
  mkdir -p "$LOCAL_DIR"/{data,logs,run,kafka,prometheus,alertmanager}
  local svc
  for svc in "${SERVICES[@]}"; do mkdir -p "$LOCAL_DIR/data/$svc"; done
}

# ---------------------------------------------------------------------------------------------
# prerequisites

APT_UPDATED=0
apt_install() {
  local log="$LOCAL_DIR/logs/apt.log" sudo=() created_policy=0
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "missing Debian packages: $*. Install them as root: apt-get install -y $*"
    sudo=(sudo)
  fi
  say "installing $* with apt-get (first run only; log: $log)…"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' init scripts from starting system-wide daemons on the default ports.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# written by iocmon deploy/local/stack.sh while it installs packages\nexit 101\n' |
      "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null && "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  local ok=1
  if ((APT_UPDATED == 0)); then
    "${sudo[@]}" apt-get update -q >>"$log" 2>&1 || ok=0
    APT_UPDATED=1
  fi
  if ((ok)); then
    "${sudo[@]}" apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >>"$log" 2>&1 || ok=0
  fi
  ((created_policy == 0)) || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  if ((ok == 0)); then
    printf -- '----- last 30 lines of %s -----\n' "$log" >&2
    tail -n 30 "$log" >&2
    die "apt-get could not install $*. Fix the cause above (network, a held or broken package, dpkg lock), or install them yourself: apt-get update && apt-get install -y $*"
  fi
}

# $1: services that are going to be started
ensure_prerequisites() {
  local wanted=" $* " missing=()
  command -v curl >/dev/null || missing+=(curl)
  [[ $wanted != *" redis "* ]] || command -v redis-server >/dev/null || missing+=(redis-server)
  command -v redis-cli >/dev/null || missing+=(redis-tools)
  [[ $wanted != *" prometheus "* ]] || [[ -x /usr/bin/prometheus ]] || missing+=(prometheus)
  [[ $wanted != *" alertmanager "* ]] || [[ -x /usr/bin/prometheus-alertmanager ]] || missing+=(prometheus-alertmanager)
  command -v flock >/dev/null || missing+=(util-linux)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"

  if [[ $wanted == *" kafka "* ]]; then
    command -v java >/dev/null ||
      die "java not found: Kafka $KAFKA_VERSION needs Java 17 or newer. Install it with: apt-get install -y openjdk-17-jre-headless"
    local version major
    version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
    major="${version%%.*}"
    [[ $major == 1 ]] && major="$(echo "$version" | cut -d. -f2)"
    { [[ $major =~ ^[0-9]+$ ]] && ((major >= 17)); } ||
      die "java is version ${version:-unknown}; Kafka $KAFKA_VERSION needs 17 or newer. Install it with: apt-get install -y openjdk-17-jre-headless"
    resolve_kafka_libs
  fi
}

# Kafka's jars, resolved by mvn once into the cache. The folder is named after the pom's hash,
# so editing the pom resolves again; a lock lets two stacks start at the same time.
KAFKA_LIBS=""
kafka_libs_dir() {
  local sum
  sum="$(sha256sum "$KAFKA_POM" | cut -c1-12)"
  echo "$CACHE_DIR/kafka-$KAFKA_VERSION-$sum"
}
resolve_kafka_libs() {
  mkdir -p "$CACHE_DIR" || die "cannot create IOCMON_CACHE_DIR=$CACHE_DIR"
  CACHE_DIR="$(cd "$CACHE_DIR" && pwd)"
  KAFKA_LIBS="$(kafka_libs_dir)"
  [[ -f $KAFKA_LIBS/.complete ]] && return 0

  exec 8>"$CACHE_DIR/.kafka.lock"
  if ! flock -n 8; then
    say "waiting for another stack.sh that is resolving the Kafka jars…"
    flock 8
  fi
  if [[ ! -f $KAFKA_LIBS/.complete ]]; then
    command -v mvn >/dev/null ||
      die "mvn not found: it fetches the Kafka $KAFKA_VERSION jars from Maven Central on the first run. Install it with: apt-get install -y maven"
    local work="$KAFKA_LIBS.partial" log="$CACHE_DIR/mvn-kafka.log" started pid rc=0 n
    rm -rf "$work"
    mkdir -p "$work"
    cp "$KAFKA_POM" "$work/pom.xml"
    started="$(now_us)"
    say "resolving Kafka $KAFKA_VERSION jars with mvn (first run only, ~30 s; log: $log)…"
    (cd "$work" && exec mvn -B -f pom.xml dependency:copy-dependencies \
      -DoutputDirectory="$work/libs" -DincludeScope=runtime) </dev/null >"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      sleep 5
      if kill -0 "$pid" 2>/dev/null; then
        n="$(grep -c 'Downloaded from' "$log" || true)"
        say "  … $(since "$started"), $n files downloaded"
      fi
    done
    wait "$pid" || rc=$?
    if ((rc != 0)) || ! compgen -G "$work/libs/kafka_2.13-*.jar" >/dev/null; then
      printf -- '----- last 30 lines of %s -----\n' "$log" >&2
      tail -n 30 "$log" >&2
      rm -rf "$work"
      die "mvn could not resolve the Kafka $KAFKA_VERSION jars (exit $rc). Check that Maven Central is reachable (a proxy or mirror goes in ~/.m2/settings.xml), then run this again."
    fi
    rm -rf "$KAFKA_LIBS"
    mv "$work/libs" "$KAFKA_LIBS"
    rm -rf "$work"
    touch "$KAFKA_LIBS/.complete"
    say "resolved $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $(since "$started") into $KAFKA_LIBS"
  fi
  exec 8>&-
}

# Runs a Kafka command-line tool. The first TopicCommand run also writes a class-data-sharing
# archive beside the jars (keyed to this java), which halves the start of every later tool run.
kafka_tool() {
  local java_bin key archive tmp="" cds=() rc=0
  java_bin="$(readlink -f "$(command -v java)")"
  key="$(printf '%s %s' "$java_bin" "$(stat -c %Y "$java_bin")" | sha256sum | cut -c1-12)"
  archive="$KAFKA_LIBS/.tools-$key.jsa"
  if [[ -f $archive ]]; then
    cds=("-XX:SharedArchiveFile=$archive")
  elif [[ $1 == org.apache.kafka.tools.TopicCommand ]]; then
    tmp="$archive.$$.tmp"
    cds=("-XX:ArchiveClassesAtExit=$tmp")
  fi
  java "${TOOL_JVM_OPTS[@]}" "${cds[@]}" -cp "$KAFKA_LIBS/*" "$@" || rc=$?
  if [[ -n $tmp ]]; then
    if ((rc == 0)) && [[ -s $tmp ]]; then mv -f "$tmp" "$archive"; else rm -f "$tmp"; fi
  fi
  return "$rc"
}

# ---------------------------------------------------------------------------------------------
# starting

# Runs a service in the background in a session of its own (so that Ctrl-C in the terminal that
# ran `up` does not reach it), output appended to its log, pid and start time in its pid file.
launch() {
  local svc=$1 log pid
  shift
  log="$(log_of "$svc")"
  printf '\n===== %s: stack.sh starts %s =====\n' "$(date '+%F %T')" "$svc" >>"$log"
  setsid "$@" </dev/null >>"$log" 2>&1 7>&- 8>&- &
  pid=$!
  echo "$pid $(start_time_of "$pid") $(port_of "$svc")" >"$(pidfile_of "$svc")"
}

start_kafka() {
  local conf="$LOCAL_DIR/kafka/server.properties" KAFKA_DATA_DIR="$LOCAL_DIR/data/kafka"
  render "$HERE/kafka/server.properties.in" "$conf" KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_DATA_DIR
  if [[ ! -f $KAFKA_DATA_DIR/meta.properties ]]; then
    # A KRaft cluster id is 16 random bytes in URL-safe base64; Kafka's own rule: no leading '-'.
    local id
    id="-"
    while [[ $id == -* ]]; do
      id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    done
    say "kafka: formatting new storage in $KAFKA_DATA_DIR (cluster id $id)"
    if ! kafka_tool kafka.tools.StorageTool format -t "$id" -c "$conf" >>"$(log_of kafka)" 2>&1; then
      show_log_tail kafka
      die "kafka: formatting the storage failed (see above). If $KAFKA_DATA_DIR holds a broken half-made storage, run: deploy/local/stack.sh reset"
    fi
  fi
  # shellcheck disable=SC2086
  launch kafka java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "-Dlog4j.configuration=file:$HERE/kafka/log4j.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$conf"
}

start_redis() {
  launch redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$LOCAL_DIR/data/redis" \
    --appendonly yes --save '' --daemonize no --protected-mode yes
}

start_alertmanager() {
  local conf="$LOCAL_DIR/alertmanager/alertmanager.yml"
  cp "$HERE/alertmanager/alertmanager.yml.in" "$conf"
  launch alertmanager /usr/bin/prometheus-alertmanager --config.file="$conf" \
    --storage.path="$LOCAL_DIR/data/alertmanager" \
    --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" \
    --web.external-url="http://127.0.0.1:$ALERTMANAGER_PORT/" \
    --cluster.listen-address=
}

start_prometheus() {
  local conf="$LOCAL_DIR/prometheus/prometheus.yml" TARGETS_FILE="$LOCAL_DIR/prometheus/targets.json"
  if [[ ! -f $TARGETS_FILE ]]; then
    write_targets "$TARGETS_FILE" "$SCRAPE_TARGETS"
  fi
  render "$HERE/prometheus/prometheus.yml.in" "$conf" RULES_GLOB ALERTMANAGER_PORT TARGETS_FILE NOTIFY_PORT
  launch prometheus /usr/bin/prometheus --config.file="$conf" \
    --storage.tsdb.path="$LOCAL_DIR/data/prometheus" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.external-url="http://127.0.0.1:$PROMETHEUS_PORT/" \
    --web.enable-lifecycle
}

# targets.json for file_sd: one group with the comma-separated host:port list in $2.
write_targets() {
  local file=$1 list=$2 json="" t
  IFS=',' read -r -a targets <<<"$list"
  for t in "${targets[@]}"; do
    t="${t//[[:space:]]/}"
    [[ -n $t ]] || continue
    json+="${json:+, }\"$t\""
  done
  printf '[{"targets": [%s], "labels": {}}]\n' "$json" >"$file.tmp"
  mv -f "$file.tmp" "$file"
}

# Waits until the service answers; prints "svc: starting… ready in 1.2s".
# $2: the time it was launched (µs), $3: what to do besides (optional function name)
wait_ready() {
  local svc=$1 started=$2 deadline pid dots=0
  deadline=$(($(now_us) + TIMEOUT * 1000000))
  printf '%s: starting…' "$svc"
  while true; do
    if answers "$svc"; then
      printf ' ready in %s\n' "$(since "$started")"
      return 0
    fi
    if ! pid="$(pid_of "$svc")"; then
      printf ' exited\n'
      show_log_tail "$svc"
      die "$svc stopped right after starting (log: $(log_of "$svc")). Fix the cause in the log above, then run 'deploy/local/stack.sh up' again; 'deploy/local/stack.sh down' stops the services that did start."
    fi
    if (($(now_us) > deadline)); then
      printf ' no answer after %ss\n' "$TIMEOUT"
      show_log_tail "$svc"
      die "$svc (pid $pid) did not answer on 127.0.0.1:$(port_of "$svc") within ${TIMEOUT}s (log: $(log_of "$svc")). It is still running: wait and run 'deploy/local/stack.sh up' again, raise IOCMON_STACK_TIMEOUT, or run 'deploy/local/stack.sh down' and look at the log."
    fi
    sleep 0.2
    dots=$((dots + 1))
    ((dots % 25 != 0)) || printf '.'
  done
}

# ---------------------------------------------------------------------------------------------
# topics

# A stamp that says "topics checked for this Kafka process with these settings", so that an
# `up` of a running stack does not start a JVM just to find everything in place.
topics_stamp_value() {
  echo "$(pid_of kafka || true)|$EVENTS_TOPIC:$EVENT_PARTITIONS|$DLQ_TOPIC:$SIDE_PARTITIONS|$ALERTS_TOPIC:$SIDE_PARTITIONS"
}
topics_stamp() { echo "$LOCAL_DIR/run/kafka.topics"; }

TOPICS_CHANGED=0
ensure_topics() {
  local started bootstrap="127.0.0.1:$KAFKA_PORT" admin="$LOCAL_DIR/kafka/admin.properties"
  local deadline out="" rc regex
  [[ "$(cat "$(topics_stamp)" 2>/dev/null)" != "$(topics_stamp_value)" ]] || return 0
  [[ -n $KAFKA_LIBS ]] || resolve_kafka_libs
  printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=15000\n' >"$admin"
  regex="$(printf '%s|%s|%s' "$EVENTS_TOPIC" "$DLQ_TOPIC" "$ALERTS_TOPIC")"
  regex="${regex//./\\.}"
  started="$(now_us)"
  deadline=$(($(now_us) + TIMEOUT * 1000000))
  printf 'kafka topics: checking…'
  # The broker accepts connections a moment before it can answer metadata requests: retry.
  while true; do
    rc=0
    out="$(kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
      --command-config "$admin" --describe --if-exists --topic "^($regex)\$" 2>&1)" || rc=$?
    ((rc != 0)) || break
    if (($(now_us) > deadline)); then
      printf ' failed\n%s\n' "$out" >&2
      show_log_tail kafka
      die "kafka answers on $bootstrap but could not list topics within ${TIMEOUT}s (log: $(log_of kafka)). Run 'deploy/local/stack.sh up' again; if it keeps failing, 'deploy/local/stack.sh reset'."
    fi
    pid_of kafka >/dev/null || {
      printf ' kafka exited\n'
      show_log_tail kafka
      die "kafka stopped while its topics were being checked (log: $(log_of kafka))"
    }
    sleep 1
  done

  # "Topic: NAME<TAB>TopicId: …<TAB>PartitionCount: N<TAB>ReplicationFactor: 1<TAB>Configs: a=b,c=d"
  local -A partitions=() configs=()
  local line name
  while IFS= read -r line; do
    [[ $line == Topic:* ]] || continue
    name="$(sed -n 's/^Topic: \([^[:space:]]*\).*/\1/p' <<<"$line")"
    partitions[$name]="$(sed -n 's/.*PartitionCount: \([0-9]*\).*/\1/p' <<<"$line")"
    configs[$name]="$(sed -n 's/.*Configs: *\(.*\)$/\1/p' <<<"$line")"
  done <<<"$out"

  local created=() pids=() failed=0 topic n cfg i
  for topic in "$EVENTS_TOPIC" "$DLQ_TOPIC" "$ALERTS_TOPIC"; do
    [[ -z ${partitions[$topic]:-} ]] || continue
    if [[ $topic == "$EVENTS_TOPIC" ]]; then
      n=$EVENT_PARTITIONS
      cfg=(--config retention.ms=-1 --config retention.bytes=-1)
    elif [[ $topic == "$ALERTS_TOPIC" ]]; then
      # The notifier rebuilds the active alerts from this topic: keep each dossier's latest.
      n=$SIDE_PARTITIONS
      cfg=(--config cleanup.policy=compact)
    else
      n=$SIDE_PARTITIONS
      cfg=()
    fi
    kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
      --command-config "$admin" --create --if-not-exists --topic "$topic" \
      --partitions "$n" --replication-factor 1 "${cfg[@]}" >>"$(log_of kafka)" 2>&1 &
    pids+=($!)
    created+=("$topic($n)")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || {
      failed=1
      printf '\n' && warn "creating topic ${created[$i]} failed; see $(log_of kafka)"
    }
  done

  # An events topic made before (by hand, or auto-created by a client of an older stack that
  # allowed it) must still keep everything.
  local have="${partitions[$EVENTS_TOPIC]:-}" current="${configs[$EVENTS_TOPIC]:-}"
  if [[ -n $have ]]; then
    if [[ ",$current," != *",retention.ms=-1,"* || ",$current," != *",retention.bytes=-1,"* ]]; then
      kafka_tool kafka.admin.ConfigCommand --bootstrap-server "$bootstrap" \
        --command-config "$admin" --entity-type topics --entity-name "$EVENTS_TOPIC" \
        --alter --add-config retention.ms=-1,retention.bytes=-1 >>"$(log_of kafka)" 2>&1 ||
        {
          failed=1
          printf '\n' && warn "setting unlimited retention on $EVENTS_TOPIC failed; see $(log_of kafka)"
        }
      created+=("$EVENTS_TOPIC:retention=unlimited")
    fi
    if ((have != EVENT_PARTITIONS)); then
      printf '\n'
      warn "topic $EVENTS_TOPIC has $have partitions, IOCMON_EVENT_PARTITIONS=$EVENT_PARTITIONS; left as it is (changing it moves dossiers between partitions; 'deploy/local/stack.sh reset' starts afresh)"
    fi
  fi
  # An alerts topic made before without compaction must compact (the notifier rebuilds the
  # active alerts from each dossier's latest record).
  if [[ -n ${partitions[$ALERTS_TOPIC]:-} && ",${configs[$ALERTS_TOPIC]:-}," != *",cleanup.policy=compact,"* ]]; then
    kafka_tool kafka.admin.ConfigCommand --bootstrap-server "$bootstrap" \
      --command-config "$admin" --entity-type topics --entity-name "$ALERTS_TOPIC" \
      --alter --add-config cleanup.policy=compact >>"$(log_of kafka)" 2>&1 ||
      {
        failed=1
        printf '\n' && warn "setting compaction on $ALERTS_TOPIC failed; see $(log_of kafka)"
      }
    created+=("$ALERTS_TOPIC:compacted")
  fi
  ((failed == 0)) || die "kafka topics could not be set up (see above). Run 'deploy/local/stack.sh up' again."

  if ((${#created[@]})); then
    TOPICS_CHANGED=1
    printf ' created %s in %s\n' "${created[*]}" "$(since "$started")"
  else
    printf ' %s, %s, %s present (%s)\n' "$EVENTS_TOPIC" "$DLQ_TOPIC" "$ALERTS_TOPIC" "$(since "$started")"
  fi
  topics_stamp_value >"$(topics_stamp)"
}

# ---------------------------------------------------------------------------------------------
# commands

port_taken() {
  die "$1: port $2 is taken by a process that this stack ($LOCAL_DIR) did not start. Stop that process, or choose another port: $3=…"
}

# One stack.sh at a time changes a given local dir (say, parallel test workers that all run `up`).
lock_local_dir() {
  exec 7>"$LOCAL_DIR/run/.lock"
  if ! flock -n 7; then
    say "waiting for another stack.sh working on $LOCAL_DIR…"
    flock 7
  fi
}

cmd_up() {
  local started svc to_start=() waiting=() port pid
  started="$(now_us)"
  check_settings
  make_dirs
  lock_local_dir
  for svc in "${SERVICES[@]}"; do
    port="$(port_of "$svc")"
    if pid="$(pid_of "$svc")"; then
      # ours and alive: answering, or still starting from an earlier `up`
      local was
      was="$(started_port_of "$svc")"
      [[ $was == "$port" ]] ||
        die "$svc already runs from $LOCAL_DIR on port $was, not $(port_var_of "$svc")=$port. Use the same ports, or run 'deploy/local/stack.sh down' first."
      answers "$svc" || waiting+=("$svc")
    elif tcp_open "$port"; then
      port_taken "$svc" "$port" "$(port_var_of "$svc")"
    elif [[ $svc == kafka ]] && tcp_open "$KAFKA_CONTROLLER_PORT"; then
      port_taken "kafka controller" "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
    else
      to_start+=("$svc")
    fi
  done

  if ((${#to_start[@]} == 0 && ${#waiting[@]} == 0)); then
    ensure_prerequisites
    ensure_topics
    if ((TOPICS_CHANGED)); then
      say "already running ($LOCAL_DIR); topics set up"
    else
      say "already running ($LOCAL_DIR) — nothing to do"
    fi
    cmd_status || true
    print_endpoints
    return 0
  fi

  ensure_prerequisites "${to_start[@]}"
  declare -A launched=()
  for svc in "${to_start[@]}"; do
    rm -f "$(pidfile_of "$svc")"
    [[ $svc != kafka ]] || rm -f "$(topics_stamp)"
    launched[$svc]="$(now_us)"
    "start_$svc"
  done
  for svc in redis alertmanager prometheus kafka; do
    if [[ -n ${launched[$svc]:-} ]]; then
      wait_ready "$svc" "${launched[$svc]}"
    elif [[ " ${waiting[*]} " == *" $svc "* ]]; then
      say "$svc: was already starting"
      wait_ready "$svc" "$(now_us)"
    else
      say "$svc: already running (pid $(pid_of "$svc"))"
    fi
  done
  ensure_topics
  say "stack up in $(since "$started") ($LOCAL_DIR)"
  print_endpoints
}

print_endpoints() {
  say "  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT  REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
  say "  Prometheus http://127.0.0.1:$PROMETHEUS_PORT  Alertmanager http://127.0.0.1:$ALERTMANAGER_PORT"
}

cmd_down() {
  local svc pid stopping=() pids=() i deadline started any=0
  [[ -d $LOCAL_DIR ]] || {
    say "nothing to stop ($LOCAL_DIR does not exist)"
    return 0
  }
  LOCAL_DIR="$(cd "$LOCAL_DIR" && pwd)"
  mkdir -p "$LOCAL_DIR/run"
  lock_local_dir
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    svc="${SERVICES[$i]}"
    if pid="$(pid_of "$svc")"; then
      kill -TERM "$pid" 2>/dev/null || true
      stopping+=("$svc")
      pids+=("$pid")
      any=1
    else
      rm -f "$(pidfile_of "$svc")"
    fi
  done
  ((any)) || {
    say "nothing running ($LOCAL_DIR)"
    return 0
  }
  started="$(now_us)"
  deadline=$(($(now_us) + STOP_GRACE * 1000000))
  for i in "${!stopping[@]}"; do
    svc="${stopping[$i]}"
    pid="${pids[$i]}"
    printf '%s: stopping (pid %s)…' "$svc" "$pid"
    while pid_of "$svc" >/dev/null && (($(now_us) < deadline)); do sleep 0.2; done
    if pid_of "$svc" >/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      while pid_of "$svc" >/dev/null; do sleep 0.1; done
      printf ' killed after %ss\n' "$STOP_GRACE"
    else
      printf ' stopped in %s\n' "$(since "$started")"
    fi
    rm -f "$(pidfile_of "$svc")"
  done
  rm -f "$(topics_stamp)"
  say "stack down ($LOCAL_DIR); data kept"
}

cmd_status() {
  local svc pid port all=0
  if [[ -d $LOCAL_DIR ]]; then LOCAL_DIR="$(cd "$LOCAL_DIR" && pwd)"; fi
  for svc in "${SERVICES[@]}"; do
    if pid="$(pid_of "$svc" 2>/dev/null)"; then
      port="$(started_port_of "$svc")"
      if answers "$svc" "$port"; then
        printf '%-13s running   pid %-8s 127.0.0.1:%-6s ready\n' "$svc" "$pid" "$port"
      else
        printf '%-13s running   pid %-8s 127.0.0.1:%-6s not answering\n' "$svc" "$pid" "$port"
        all=3
      fi
    else
      port="$(port_of "$svc")"
      if tcp_open "$port"; then
        printf '%-13s stopped   (port %s is taken by another process)\n' "$svc" "$port"
      else
        printf '%-13s stopped\n' "$svc"
      fi
      all=3
    fi
  done
  return "$all"
}

cmd_reset() {
  cmd_down
  [[ -d $LOCAL_DIR ]] || return 0
  LOCAL_DIR="$(cd "$LOCAL_DIR" && pwd)"
  [[ -n $LOCAL_DIR && $LOCAL_DIR != / && $LOCAL_DIR != "$REPO" ]] || die "refusing to reset IOCMON_LOCAL_DIR=$LOCAL_DIR"
  # Only what this script makes: a nested stack (the tests' .local/test) is left alone.
  rm -rf "$LOCAL_DIR"/{data,logs,run,kafka,prometheus,alertmanager}
  say "reset: deleted data and logs in $LOCAL_DIR (Kafka jars stay in $CACHE_DIR)"
}

# helm, for the chart's tests (tests/unit/test_helm_chart.py): built from the Go module proxy by
# `go install` into the cache once (~5 min on 2 CPUs; a second run finds it and takes no time).
# The tests run $CACHE_DIR/bin/helm, a link to the version named here.
HELM_MODULE=helm.sh/helm/v4
HELM_VERSION=v4.3.2
ensure_helm() {
  mkdir -p "$CACHE_DIR" || die "cannot create IOCMON_CACHE_DIR=$CACHE_DIR"
  CACHE_DIR="$(cd "$CACHE_DIR" && pwd)"
  local dir="$CACHE_DIR/helm-$HELM_VERSION" link="$CACHE_DIR/bin/helm"
  if [[ ! -x $dir/helm ]]; then
    exec 9>"$CACHE_DIR/.helm.lock"
    if ! flock -n 9; then
      say "waiting for another stack.sh that is building helm…"
      flock 9
    fi
    if [[ ! -x $dir/helm ]]; then
      local go="${GO:-}" log="$CACHE_DIR/go-install-helm.log" started rc=0
      if [[ -z $go ]]; then
        go="$(command -v go || true)"
        [[ -n $go ]] || go=/usr/local/go/bin/go
      fi
      [[ -x $go ]] || command -v "$go" >/dev/null ||
        die "go not found (looked on PATH and at /usr/local/go/bin/go): it builds helm $HELM_VERSION for the chart's tests. Install Go 1.25 or newer (Debian 12's golang-go is too old) or point GO= at it"
      started="$(now_us)"
      say "building helm $HELM_VERSION with $go install (first run only, ~5 min; log: $log)…"
      rm -rf "$dir.partial"
      mkdir -p "$dir.partial"
      GOBIN="$dir.partial" "$go" install "$HELM_MODULE/cmd/helm@$HELM_VERSION" </dev/null >"$log" 2>&1 || rc=$?
      if ((rc != 0)) || [[ ! -x $dir.partial/helm ]]; then
        printf -- '----- last 30 lines of %s -----\n' "$log" >&2
        tail -n 30 "$log" >&2
        rm -rf "$dir.partial"
        die "go install $HELM_MODULE/cmd/helm@$HELM_VERSION failed (exit $rc). Check that the Go module proxy is reachable (GOPROXY), then run this again."
      fi
      rm -rf "$dir"
      mv "$dir.partial" "$dir"
      say "built helm $HELM_VERSION in $(since "$started") into $dir"
    fi
    exec 9>&-
  fi
  mkdir -p "$CACHE_DIR/bin"
  if [[ "$(readlink "$link" 2>/dev/null)" != "$dir/helm" ]]; then
    ln -sfn "$dir/helm" "$link.tmp" && mv -Tf "$link.tmp" "$link"
  fi
}

# Everything `up` would install for all services, plus the tools only the tests use (promtool
# and amtool ship with the prometheus and prometheus-alertmanager packages, but a machine may
# have the daemons without them; systemd-analyze checks deploy/systemd; helm the chart). Without
# this, the first `make test` on a fresh machine skipped the rule tests: the packages came only
# when a test started the stack.
cmd_install() {
  local missing=()
  make_dirs
  ensure_prerequisites "${SERVICES[@]}"
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
  command -v promtool >/dev/null && command -v amtool >/dev/null ||
    die "promtool or amtool is still missing after installing prometheus and prometheus-alertmanager; install them by hand"
  command -v systemd-analyze >/dev/null ||
    die "systemd-analyze is still missing after installing systemd; install it by hand"
  ensure_helm
  say "prerequisites installed (Debian packages, Kafka jars and helm $HELM_VERSION in $CACHE_DIR, promtool, amtool, systemd-analyze)"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
reset) cmd_reset ;;
install) cmd_install ;;
-h | --help | help) usage ;;
*)
  usage >&2
  exit 2
  ;;
esac
