#!/usr/bin/env bash
# Builds telemetrygen, the OpenTelemetry load generator, for the OTLP receiver
# tests and bench/otlp.sh, and caches it as
# $HOME/.cache/podtrace-peers/telemetrygen-v0.149.0/telemetrygen. Prints its path.
#
#   bash scripts/build-telemetrygen.sh     # ≈2–4 min cold on 2 cores, instant when cached
set -euo pipefail
exec bash "$(dirname "$0")/build-go-tool.sh" telemetrygen "${TELEMETRYGEN_VERSION:-v0.149.0}" \
  github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen \
  github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen
