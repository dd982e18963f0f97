#!/usr/bin/env bash
# Profiles one load point: builds the example host and the load tool, runs
# the host on core 0 with its profiler on and the load tool on core 1 with
# its own CPU profile, takes a host CPU profile in the middle of the ticks,
# and prints the load tool's line, both processes' CPU and the top of each
# profile. Usage:
#
#   bench/profile.sh TRANSPORT SUBSCRIBERS RATE [OUT_DIR]
#
# e.g. bench/profile.sh ws 5000 1000 /tmp/ws5000. The profiles stay in
# OUT_DIR (default: a new temporary directory) for `go tool pprof`.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,11p' "$0"; exit 2; }
transport=$1 subscribers=$2 rate=$3
cd "$(dirname "$0")/.."
out=${4:-$(mktemp -d)}
mkdir -p "$out"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT

go build -o "$out/host" ./examples/host
go build -o "$out/load" ./bench/cmd/load

. bench/lib.sh
start host 127.0.0.1:8080 "$out/host" -addr 127.0.0.1:8080 -pprof-addr 127.0.0.1:6060 "${host_flags[@]}"
host=$(cat "$out/host.pid")

# The ticks start once every subscriber is connected: a few seconds in at
# 5,000 subscribers. The host profile covers 5 s from 9 s after the start.
(sleep 9; curl -s -o "$out/host.pprof" "http://127.0.0.1:6060/debug/pprof/profile?seconds=5") &
profiler=$!
/usr/bin/time -f "load tool: user %Us system %Ss wall %es" taskset -c 1 "$out/load" -url http://127.0.0.1:8080 \
  -server-pid "$host" -transport "$transport" -subscribers "$subscribers" -rate "$rate" -duration 10s -timeout 2m \
  -cpuprofile "$out/load.pprof" || true
wait "$profiler" || true

echo "== host, 5 s in the middle of the ticks"
go tool pprof -top -nodecount=15 "$out/host" "$out/host.pprof" 2>/dev/null | sed -n '4,22p'
echo "== load tool, the whole run"
go tool pprof -top -nodecount=15 "$out/load" "$out/load.pprof" 2>/dev/null | sed -n '4,22p'
echo "profiles in $out"
