#!/usr/bin/env bash
# Measures the live-delivery targets: builds the example host, the bare
# fan-out server and the load tool, pins the servers to core 0 and the load
# tool to core 1, and prints one line per run. Usage:
#
#   bench/targets.sh [scenario...]    # default: all of them
#
# Scenarios: fanout1000 fanout5000 tasks1000 idle5000 idle10000, and the
# overload points overload1000 overload5000 (1,000 events/s offered to one
# task's 1,000 or 5,000 subscribers, past what one core delivers).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$out"' EXIT

go build -o "$out/host" ./examples/host
go build -o "$out/fanout" ./bench/cmd/fanout
go build -o "$out/load" ./bench/cmd/load
. bench/lib.sh

# load LABEL URL PID ARGS...: one run of the load tool on core 1.
load() {
  local label=$1 url=$2 pid=$3; shift 3
  printf '%-14s ' "$label"
  taskset -c 1 "$out/load" -url "$url" -server-pid "$pid" "$@" || true
}

# stop NAME: stops a server started before, and waits until it has exited.
stop() {
  if [ -f "$out/$1.pid" ]; then
    kill "$(cat "$out/$1.pid")" 2>/dev/null || true
    wait "$(cat "$out/$1.pid")" 2>/dev/null || true
    rm -f "$out/$1.pid"
  fi
}

# fresh_host and fresh_bare: a server process of its own for each run, and
# the only one: memory an earlier run left in a heap would hide what this
# one takes, and a server still freeing gigabytes after its run would take
# core 0 from the next one.
fresh_host() {
  stop fanout; stop host
  start host 127.0.0.1:8080 "$out/host" -addr 127.0.0.1:8080 "${host_flags[@]}"
  host=$(cat "$out/host.pid")
}
fresh_bare() {
  stop host; stop fanout
  start fanout 127.0.0.1:8090 "$out/fanout" -addr 127.0.0.1:8090
  bare=$(cat "$out/fanout.pid")
}

H=http://127.0.0.1:8080 B=http://127.0.0.1:8090

run() {
  case $1 in
  fanout1000) # one task, 1,000 subscribers, 400 events/s; the bare server right before
    for t in sse ws; do
      fresh_bare
      load "bare/$t" $B "$bare" -transport $t -subscribers 1000 -rate 400 -duration 10s
      fresh_host
      load "host/$t" $H "$host" -transport $t -subscribers 1000 -rate 400 -duration 10s
    done ;;
  fanout5000) # one task, 5,000 subscribers, 100 events/s
    for t in sse ws; do
      fresh_host
      load "host/$t" $H "$host" -transport $t -subscribers 5000 -rate 100 -duration 10s
    done ;;
  tasks1000) # 1,000 tasks with one subscriber each, 1,000 events/s in all
    for t in sse ws poll; do
      fresh_host
      load "host/$t" $H "$host" -transport $t -tasks 1000 -rate 1000 -duration 10s
    done ;;
  overload1000) # one task, 1,000 subscribers, 1,000 events/s offered; the bare server right before
    for t in sse ws; do
      fresh_bare
      load "bare/$t" $B "$bare" -transport $t -subscribers 1000 -rate 1000 -duration 10s
      fresh_host
      load "host/$t" $H "$host" -transport $t -subscribers 1000 -rate 1000 -duration 10s
    done ;;
  overload5000) # one task, 5,000 subscribers, 1,000 events/s offered
    for t in sse ws; do
      fresh_bare
      load "bare/$t" $B "$bare" -transport $t -subscribers 5000 -rate 1000 -duration 10s -timeout 2m
      fresh_host
      load "host/$t" $H "$host" -transport $t -subscribers 5000 -rate 1000 -duration 10s -timeout 2m
    done ;;
  idle5000) # memory per idle subscriber
    for t in sse ws; do
      fresh_host
      load "host/$t" $H "$host" -transport $t -subscribers 5000 -idle -hold 10s
    done ;;
  idle10000) # 10,000 idle subscribers held
    for t in sse ws; do
      fresh_host
      load "host/$t" $H "$host" -transport $t -subscribers 10000 -idle -hold 30s -timeout 2m
    done ;;
  *) echo "unknown scenario $1"; exit 2 ;;
  esac
}

for s in "${@:-fanout1000 fanout5000 tasks1000 idle5000 idle10000 overload1000 overload5000}"; do
  for one in $s; do run "$one"; done
done
