# Sourced by the bench scripts; $out is the caller's scratch directory.

# host_flags lift the example host's limits for a load run: enough executor
# slots that every task of a run ticks at once, and no per-client or
# per-subject caps, since the load tool is one client address and one
# subject.
host_flags=(-log-level error -max-concurrent 20000 -max-conns-per-client -1 -streams-per-subject 0 -creates-per-second 0)

# start NAME ADDR CMD...: starts a server on core 0 and waits until it
# accepts connections on ADDR; fails with its log when it does not.
start() {
  local name=$1 addr=$2; shift 2
  taskset -c 0 "$@" >"$out/$name.log" 2>&1 &
  echo $! >"$out/$name.pid"
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then return; fi
    sleep 0.1
  done
  echo "$name did not start"; cat "$out/$name.log"; exit 1
}
