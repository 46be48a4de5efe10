#!/usr/bin/env bash
# Builds a real Jaeger v2 (OTLP in, Jaeger query API out; also a full
# OpenTelemetry Collector) for the tests that need one — the Jaeger-compatible
# query API, the delivery trace export, the OTLP receiver benchmark — and
# caches it as $HOME/.cache/podtrace-peers/jaeger-v1.76.0/jaeger. Prints its path.
#
#   bash scripts/build-jaeger.sh        # ≈10 min cold on 2 cores, instant when cached
set -euo pipefail
exec bash "$(dirname "$0")/build-go-tool.sh" jaeger "${JAEGER_VERSION:-v1.76.0}" \
  github.com/jaegertracing/jaeger github.com/jaegertracing/jaeger/cmd/jaeger
