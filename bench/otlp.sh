#!/usr/bin/env bash
# OTLP ingest throughput, podtrace against an OpenTelemetry Collector, in the
# same run and with the same load: PROCS telemetrygen processes send traces
# over gRPC for DURATION, each with WORKERS unthrottled workers and export
# batches of BATCH spans, first to `podtrace serve`, then to a plain collector
# (the Jaeger v2 binary, which is a full OpenTelemetry Collector, with an otlp
# receiver and the nop exporter); each side's own counter of accepted spans
# gives spans/s, and its CPU time (from /proc) the cost per span. On a small
# machine telemetrygen is the bottleneck (its SDK drops what its export loop
# cannot send): spans/s is then what each receiver accepted from the same
# load, and CPU per span is the figure that tells the receivers apart.
#
#   bash bench/otlp.sh        # DURATION=20s PROCS=2 WORKERS=4 BATCH=1000 by default
#
# Builds (once, cached under ~/.cache/podtrace-peers) telemetrygen and Jaeger.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-20s}"
WORKERS="${WORKERS:-4}"
PROCS="${PROCS:-2}"
BATCH="${BATCH:-1000}"
CHILD_SPANS="${CHILD_SPANS:-9}"

tg=$(bash scripts/build-telemetrygen.sh)
jaeger=$(bash scripts/build-jaeger.sh)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/podtrace" ./cmd/podtrace

cpu_ms() { # CPU time (user + system) of process $1 so far, in ms
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"
}

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_http() { # url
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "bench: $1 never answered" >&2
  return 1
}

# sum of the samples of metric $2 (a name prefix) at URL $1
metric() {
  curl -fsS "$1" | awk -v m="$2" 'index($0, m) == 1 && $0 !~ /^#/ { s += $NF } END { printf "%.0f\n", s }'
}

# load ENDPOINT: runs the telemetrygen processes, prints elapsed seconds
load() {
  local start end tgs=()
  start=$(date +%s.%N)
  for i in $(seq 1 "$PROCS"); do
    "$tg" traces --otlp-endpoint "$1" --otlp-insecure --duration "$DURATION" --workers "$WORKERS" \
      --rate 0 --child-spans "$CHILD_SPANS" --batch-size "$BATCH" --service bench >"$work/tg$i.log" 2>&1 &
    tgs+=($!)
  done
  for p in "${tgs[@]}"; do wait "$p"; done
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}

# podtrace
http=$(port); grpc=$(port)
"$work/podtrace" serve --db "$work/podtrace.db" --http-addr "127.0.0.1:$http" \
  --otlp-grpc-addr "127.0.0.1:$grpc" --otlp-http-addr "" >"$work/podtrace.log" 2>&1 &
ptpid=$!
pids+=($ptpid)
wait_http "http://127.0.0.1:$http/healthz"
cpu0=$(cpu_ms "$ptpid")
secs=$(load "127.0.0.1:$grpc")
sleep 1
ptcpu=$(( $(cpu_ms "$ptpid") - cpu0 ))
pt=$(metric "http://127.0.0.1:$http/metrics" 'podtrace_otlp_spans_total{result="accepted"}')

# the OpenTelemetry Collector (Jaeger v2 binary, plain collector config)
cgrpc=$(port); cmetrics=$(port)
cat >"$work/collector.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$cgrpc
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
  telemetry:
    logs:
      level: warn
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: $cmetrics
YAML
"$jaeger" --config="file:$work/collector.yaml" >"$work/collector.log" 2>&1 &
colpid=$!
pids+=($colpid)
wait_http "http://127.0.0.1:$cmetrics/metrics"
cpu0=$(cpu_ms "$colpid")
csecs=$(load "127.0.0.1:$cgrpc")
sleep 1
colcpu=$(( $(cpu_ms "$colpid") - cpu0 ))
col=$(metric "http://127.0.0.1:$cmetrics/metrics" 'otelcol_receiver_accepted_spans')

python3 - "$pt" "$secs" "$ptcpu" "$col" "$csecs" "$colcpu" "$WORKERS" "$DURATION" "$PROCS" "$BATCH" <<'PY'
import sys
pt, secs, ptcpu, col, csecs, colcpu = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
workers, dur, procs, batch = sys.argv[7:]
a, b = pt / secs, col / csecs
ca, cb = ptcpu * 1e3 / max(pt, 1), colcpu * 1e3 / max(col, 1)  # CPU µs per span
print(f"telemetrygen, {procs} processes x {workers} workers, batches of {batch}, {dur}, OTLP/gRPC")
print(f"podtrace serve          {pt:>9} spans in {secs:4.1f}s {a:>9.0f} spans/s  {ptcpu:>6} ms CPU  {ca:5.2f} µs CPU/span")
print(f"OpenTelemetry Collector {col:>9} spans in {csecs:4.1f}s {b:>9.0f} spans/s  {colcpu:>6} ms CPU  {cb:5.2f} µs CPU/span  (otlp receiver -> nop exporter)")
print(f"podtrace / collector    throughput {a / b:.2f}x, CPU per span {ca / cb:.2f}x")
PY
