#!/usr/bin/env bash
# loadtest.sh [LOADGEN FLAGS...]: sustained webhook throughput on this
# machine. Builds podtrace and podtrace-loadgen, serves a fresh SQLite
# database on a free loopback port (PODTRACE_SERVE_FLAGS adds flags, e.g.
# "--postgres-dsn $PODTRACE_TEST_POSTGRES"), posts apiserver-shaped batches
# (400 events, ~0.7-1 MB, from the real captures) for DURATION (30s), and
# prints events/s and ack latency p50/p99, then podtrace's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/podtrace-load.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/podtrace" ./cmd/podtrace
go build -o "$dir/podtrace-loadgen" ./loadgen/cmd/podtrace-loadgen
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))
# shellcheck disable=SC2086
"$dir/podtrace" serve --http-addr "127.0.0.1:$port" --db "$dir/load.db" --otlp-grpc-addr "" --otlp-http-addr "" ${PODTRACE_SERVE_FLAGS:-} 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
command time -f "loadgen CPU: %U user + %S sys s" "$dir/podtrace-loadgen" -url "http://127.0.0.1:$port/audit" -duration "${DURATION:-30s}" "$@" | tee "$dir/result"
cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
events=$(sed -n 's/.*: \([0-9]*\) events acknowledged.*/\1/p' "$dir/result")
awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v n="${events:-0}" 'BEGIN {
  s = t / hz; printf "podtrace CPU: %.1f s (%.0f events per CPU-second; the machine is shared: this is what 1 free core does)\n", s, (s > 0 ? n / s : 0) }'
echo "podtrace peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MB"}')"
