#!/usr/bin/env bash
# `make run`: the whole thing on one machine, for a demo or a look around.
#   1. the local stack (deploy/local/stack.sh up)
#   2. the worker (`iocmon worker`), scraped by the stack's Prometheus
#   3. the simulator (`iocmon simulate --rate 1000 --backfill-days 7`)
#   4. the live view (`iocmon live`) in the foreground
# Ctrl-C (or the live view ending) stops the simulator, the worker and the stack; data is kept.
# That holds when the output goes to a pipe that Ctrl-C closed (`| tee`): see cleanup().
# Same settings as stack.sh (ports, IOCMON_LOCAL_DIR, topics), plus IOCMON_WEB_PORT [6066].
# KAFKA_BOOTSTRAP_SERVERS and REDIS_URL default to the stack's ports.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"

export IOCMON_LOCAL_DIR="${IOCMON_LOCAL_DIR:-$REPO/.local}"
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export REDIS_PORT="${REDIS_PORT:-6379}"
export PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
export ALERTMANAGER_PORT="${ALERTMANAGER_PORT:-9095}"
export IOCMON_WEB_PORT="${IOCMON_WEB_PORT:-6066}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"
IOCMON="${IOCMON_CLI:-$REPO/.venv/bin/iocmon}"   # the command; tests of this script may swap it
STACK="${IOCMON_STACK_CMD:-$HERE/stack.sh}"      # likewise the stack
WORKER_TIMEOUT="${IOCMON_WORKER_TIMEOUT:-120}"
STOP_GRACE=20

LOGS="$IOCMON_LOCAL_DIR/logs"
METRICS_URL="http://127.0.0.1:$IOCMON_WEB_PORT/metrics"

die() {
  printf 'run.sh: %s\n' "$*" >&2
  exit 1
}
now_us() { echo "${EPOCHREALTIME/./}"; }
since() {
  local us=$(($(now_us) - $1))
  printf '%d.%ds' $((us / 1000000)) $((us / 100000 % 10))
}

[[ -x $IOCMON ]] || die "$IOCMON not found; run 'make venv' first (make run does it)"
if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$IOCMON_WEB_PORT" 2>/dev/null; then
  die "port $IOCMON_WEB_PORT is already taken (another worker?). Stop it, or choose another: IOCMON_WEB_PORT=…"
fi

WORKER_PID=""
SIMULATOR_PID=""

# Stops one background process: TERM, then KILL after $STOP_GRACE seconds.
stop_process() {
  local name=$1 pid=$2 started waited=0
  kill -0 "$pid" 2>/dev/null || return 0
  started="$(now_us)"
  printf 'stopping %s (pid %s)…' "$name" "$pid"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < STOP_GRACE * 10)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    printf ' killed after %ss\n' "$STOP_GRACE"
  else
    printf ' stopped in %s\n' "$(since "$started")"
  fi
  wait "$pid" 2>/dev/null || true
}

CLEANED=0
# The same Ctrl-C that reaches run.sh also ends a `| tee run.log` reading its output, and a
# closed terminal ends the reader too: the cleanup then writes to a pipe nobody reads. Left
# alone, bash dies of SIGPIPE on the first line (or set -e stops it on the write error), and the
# worker and the simulator, each in a session of its own, run on as orphans holding the port.
# So the cleanup ignores SIGPIPE, does not stop on errors, and writes to run.log instead when
# its output is gone.
cleanup() {
  local rc=$?
  trap - INT TERM HUP EXIT
  trap '' PIPE
  set +e
  ((CLEANED == 0)) || exit "$rc"
  CLEANED=1
  if ! printf '\n' 2>/dev/null; then
    exec >>"$LOGS/run.log" 2>&1
    printf '%s: run.sh: output closed; stopping (this log is %s)\n' "$(date '+%F %T')" "$LOGS/run.log"
  fi
  [[ -z $SIMULATOR_PID ]] || stop_process simulator "$SIMULATOR_PID"
  [[ -z $WORKER_PID ]] || stop_process worker "$WORKER_PID"
  echo "stopping the stack…"
  "$STACK" down || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT # Ctrl-C is the normal way to stop
trap 'exit 143' TERM
trap 'exit 129' HUP # the terminal closed

# Starts `iocmon ARGS…` in its own session (Ctrl-C reaches only the foreground live view; the
# trap stops these in order), output appended to $LOGS/NAME.log. Sets LAUNCHED_PID.
launch() {
  local name=$1
  shift
  printf '\n===== %s: run.sh starts iocmon %s =====\n' "$(date '+%F %T')" "$*" >>"$LOGS/$name.log"
  setsid "$IOCMON" "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
  LAUNCHED_PID=$!
}

"$STACK" up

# Prometheus scrapes this worker (the file is watched; no reload needed).
targets="$IOCMON_LOCAL_DIR/prometheus/targets.json"
printf '[{"targets": ["127.0.0.1:%s"], "labels": {}}]\n' "$IOCMON_WEB_PORT" >"$targets.tmp"
mv -f "$targets.tmp" "$targets"

started="$(now_us)"
launch worker worker
WORKER_PID=$LAUNCHED_PID
printf 'worker: starting (log %s)…' "$LOGS/worker.log"
deadline=$(($(now_us) + WORKER_TIMEOUT * 1000000))
ticks=0
until curl -fsS -m 2 -o /dev/null "$METRICS_URL" 2>/dev/null; do
  if ! kill -0 "$WORKER_PID" 2>/dev/null; then
    printf ' exited\n'
    echo "----- last 30 lines of $LOGS/worker.log -----" >&2
    tail -n 30 "$LOGS/worker.log" >&2
    die "the worker stopped while starting; fix the cause in the log above and run 'make run' again"
  fi
  if (($(now_us) > deadline)); then
    printf ' no answer\n'
    echo "----- last 30 lines of $LOGS/worker.log -----" >&2
    tail -n 30 "$LOGS/worker.log" >&2
    die "the worker did not answer on $METRICS_URL within ${WORKER_TIMEOUT}s (raise IOCMON_WORKER_TIMEOUT, or see its log)"
  fi
  sleep 0.2
  ticks=$((ticks + 1))
  ((ticks % 25 != 0)) || printf '.'
done
printf ' ready in %s\n' "$(since "$started")"

launch simulator simulate --rate 1000 --backfill-days 7
SIMULATOR_PID=$LAUNCHED_PID
sleep 0.5
kill -0 "$SIMULATOR_PID" 2>/dev/null || {
  echo "----- last 30 lines of $LOGS/simulator.log -----" >&2
  tail -n 30 "$LOGS/simulator.log" >&2
  die "the simulator stopped right after starting; see the log above"
}
echo "simulator: sending 200 events/s after a 7-day backfill (log $LOGS/simulator.log)"

cat <<EOF

  Prometheus   http://127.0.0.1:$PROMETHEUS_PORT/graph  (job "iocmon"; alerts at http://127.0.0.1:$ALERTMANAGER_PORT)
  API summary  http://127.0.0.1:$IOCMON_WEB_PORT/api/v1/summary
  Overdue      http://127.0.0.1:$IOCMON_WEB_PORT/api/v1/overdue
  Metrics      $METRICS_URL
  Logs         $LOGS/{worker,simulator,kafka,redis,prometheus,alertmanager}.log
  Ctrl-C stops the live view, the simulator, the worker and the stack (data is kept; 'make reset' wipes it).

EOF

"$IOCMON" live
