#!/usr/bin/env bash
# Measures cross-replica delivery: two example hosts on one PostgreSQL
# database, tasks created and answered on A and followed on B, next to the
# same load on one host with the memory store. Prints one line per run.
# Usage:
#
#   TASKBRIDGE_BENCH_POSTGRES_URL=postgres://... bench/replicas.sh [scenario...]
#
# Scenarios: tasks1000 (1,000 tasks × 1 subscriber, 1,000 events/s in all),
# fanout1000 (one task, 1,000 subscribers, 100 events/s), and burst100 (100
# tasks ticking as fast as their appends allow, 1,000 ticks each, on one
# host over PostgreSQL: delivered/s is the rate of appends). The hosts
# share core 0, the load tool has core 1; PostgreSQL runs where the
# scheduler puts it. Each run uses a schema of its own, dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
db=${TASKBRIDGE_BENCH_POSTGRES_URL:?set TASKBRIDGE_BENCH_POSTGRES_URL to a database the hosts may create schemas in}
out=$(mktemp -d)
schema="bench_$(date +%s)"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; psql "$db" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" || true; rm -rf "$out"' EXIT

go build -o "$out/host" ./examples/host
go build -o "$out/load" ./bench/cmd/load
. bench/lib.sh # host_flags; this script waits for /ready with a start of its own

# start NAME PORT FLAGS...: a host on core 0; waits until /ready says 200.
start() {
  local name=$1 port=$2; shift 2
  taskset -c 0 "$out/host" -addr "127.0.0.1:$port" "${host_flags[@]}" "$@" >"$out/$name.log" 2>&1 &
  echo $! >"$out/$name.pid"
  for _ in $(seq 200); do
    if curl -sf "http://127.0.0.1:$port/ready" >/dev/null; then return; fi
    sleep 0.1
  done
  echo "$name did not get ready"; cat "$out/$name.log"; exit 1
}

stop_all() {
  for f in "$out"/*.pid; do [ -f "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; }; done
  wait 2>/dev/null || true
}

# load LABEL URL FOLLOW PID ARGS...: one run of the load tool on core 1.
load() {
  local label=$1 url=$2 follow=$3 pid=$4; shift 4
  printf '%-22s ' "$label"
  taskset -c 1 "$out/load" -url "$url" -follow-url "$follow" -server-pid "$pid" "$@" || true
}

args_of() {
  case $1 in
  tasks1000) echo "-tasks 1000 -rate 1000 -duration 10s" ;;
  fanout1000) echo "-subscribers 1000 -rate 100 -duration 10s" ;;
  burst100) echo "-tasks 100 -rate 1000000 -duration 100ms -timeout 5m" ;;
  *) echo "unknown scenario $1" >&2; exit 2 ;;
  esac
}

run() {
  local a
  a=$(args_of "$1")
  if [ "$1" = burst100 ]; then
    start a 8081 -store postgres -postgres-url "$db" -postgres-schema "$schema"
    load "postgres/A/$1/sse" http://127.0.0.1:8081 http://127.0.0.1:8081 "$(cat "$out/a.pid")" -transport sse $a
    stop_all
    return
  fi
  for t in sse ws poll; do
    start memory 8080
    load "memory/$1/$t" http://127.0.0.1:8080 http://127.0.0.1:8080 "$(cat "$out/memory.pid")" -transport $t $a
    stop_all
    start a 8081 -store postgres -postgres-url "$db" -postgres-schema "$schema"
    start b 8082 -store postgres -postgres-url "$db" -postgres-schema "$schema"
    load "postgres/A→B/$1/$t" http://127.0.0.1:8081 http://127.0.0.1:8082 "$(cat "$out/b.pid")" -transport $t $a
    stop_all
  done
}

for s in "${@:-tasks1000 fanout1000 burst100}"; do
  for one in $s; do run "$one"; done
done
