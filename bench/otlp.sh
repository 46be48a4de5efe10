#!/usr/bin/env bash
# OTLP ingest throughput: podtrace against an OpenTelemetry Collector, in the
# same run, with the same loads, taking turns (ROUNDS, alternating who goes
# first, medians reported) so the load of a shared machine hits both alike.
#
#  1. telemetrygen: PROCS processes × WORKERS unthrottled workers, export
#     batches of BATCH spans, for DURATION, over gRPC. telemetrygen's SDK drops
#     what its export loop cannot send, so on a small machine it is the
#     bottleneck: spans/s is what each receiver accepted from the same load,
#     and CPU per span (from /proc) is the figure that tells them apart.
#  2. the capture's real kube-apiserver and kubelet requests, encoded once,
#     from 16 gRPC clients for DURATION (go test ./otlp -bench Load): nothing
#     is spent making spans, so the receiver is the bottleneck.
#
# The collector is the Jaeger v2 binary (a full OpenTelemetry Collector) with
# a plain config: otlp receiver → nop exporter. podtrace is `podtrace serve`.
#
#   bash bench/otlp.sh    # DURATION=10s ROUNDS=3 PROCS=2 WORKERS=4 BATCH=1000
#
# Builds (once, cached under ~/.cache/podtrace-peers) telemetrygen and Jaeger.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
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
go test -c -o "$work/otlp.test" ./otlp

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_http() { # url
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "bench: $1 never answered" >&2
  return 1
}

# metric URL NAME-PREFIX: the sum of the metric's samples
metric() {
  curl -fsS "$1" | awk -v m="$2" 'index($0, m) == 1 { s += $NF } END { printf "%.0f\n", s }'
}

cpu_ms() { # CPU time (user + system) of process $1 so far, in ms
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"
}

now() { date +%s.%N; }

# telemetrygen ENDPOINT: the telemetrygen processes, to their end
telemetrygen() {
  local tgs=()
  for i in $(seq 1 "$PROCS"); do
    "$tg" traces --otlp-endpoint "$1" --otlp-insecure --duration "$DURATION" --workers "$WORKERS" \
      --rate 0 --child-spans "$CHILD_SPANS" --batch-size "$BATCH" --service bench >"$work/tg$i.log" 2>&1 &
    tgs+=($!)
  done
  for p in "${tgs[@]}"; do wait "$p"; done
}

# rawload ENDPOINT: BenchmarkLoad against it
rawload() {
  (cd otlp && OTLP_LOAD_ENDPOINT="$1" "$work/otlp.test" -test.run '^$' -test.bench '^BenchmarkLoad$' -test.benchtime "$DURATION") >/dev/null
}

# podtrace serve
http=$(port); grpc=$(port)
"$work/podtrace" serve --db "$work/podtrace.db" --http-addr "127.0.0.1:$http" \
  --otlp-grpc-addr "127.0.0.1:$grpc" --otlp-http-addr "" >"$work/podtrace.log" 2>&1 &
ptpid=$!
pids+=($ptpid)
# the OpenTelemetry Collector
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
wait_http "http://127.0.0.1:$http/healthz"
wait_http "http://127.0.0.1:$cmetrics/metrics"

accepted() { # side: spans it accepted so far
  if [ "$1" = podtrace ]; then
    metric "http://127.0.0.1:$http/metrics" 'podtrace_otlp_spans_total{result="accepted"}'
  else
    metric "http://127.0.0.1:$cmetrics/metrics" 'otelcol_receiver_accepted_spans'
  fi
}

# run LOAD SIDE: one measured load; appends "load side spans seconds cpu_ms"
run() {
  local pid=$ptpid ep="127.0.0.1:$grpc"
  if [ "$2" = collector ]; then pid=$colpid ep="127.0.0.1:$cgrpc"; fi
  local s0 c0 t0 t1
  s0=$(accepted "$2"); c0=$(cpu_ms "$pid"); t0=$(now)
  "$1" "$ep"
  t1=$(now)
  sleep 1 # the last requests counted
  echo "$1 $2 $(( $(accepted "$2") - s0 )) $(python3 -c "print($t1 - $t0)") $(( $(cpu_ms "$pid") - c0 ))" >>"$work/runs"
}

for r in $(seq 1 "$ROUNDS"); do
  for load in telemetrygen rawload; do
    if [ $((r % 2)) -eq 1 ]; then run $load podtrace; run $load collector; else run $load collector; run $load podtrace; fi
  done
done

python3 - "$work/runs" "$ROUNDS" "$DURATION" "$PROCS" "$WORKERS" "$BATCH" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
rounds, dur, procs, workers, batch = sys.argv[2:]
titles = {
    "telemetrygen": f"telemetrygen: {procs} processes x {workers} workers, batches of {batch}, {dur} x {rounds} rounds, OTLP/gRPC",
    "rawload": f"the capture's kube-apiserver + kubelet requests, encoded once, 16 gRPC clients, {dur} x {rounds} rounds",
}
for load, title in titles.items():
    print(title)
    res = {}
    for side in ("podtrace", "collector"):
        rs = [r for r in runs if r[0] == load and r[1] == side]
        rate = statistics.median(int(r[2]) / float(r[3]) for r in rs)
        cpu = sum(int(r[4]) for r in rs) * 1e3 / max(1, sum(int(r[2]) for r in rs))
        res[side] = (rate, cpu)
        name = "podtrace serve" if side == "podtrace" else "OpenTelemetry Collector"
        print(f"  {name:<24} {rate:>10.0f} spans/s (median)  {cpu:5.2f} µs CPU/span" + ("  (otlp receiver -> nop exporter)" if side == "collector" else ""))
    (a, ca), (b, cb) = res["podtrace"], res["collector"]
    print(f"  {'podtrace / collector':<24} {a / b:>10.2f}x throughput      {ca / cb:5.2f}x CPU per span")
PY
