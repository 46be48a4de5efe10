#!/usr/bin/env bash
# Runs podtrace's end-to-end suite against a real control plane: builds the
# binaries if they are not cached (build.sh; cold ≈ 20 min, warm seconds), then
# runs every test of the e2e module with PODTRACE_E2E=1. For `make e2e` and CI.
#
# Usage: e2e/run.sh [go test flags]       e.g. e2e/run.sh -run KWOKOnly -v
# Env:   PODTRACE_E2E_TIMEOUT (go test -timeout, default 30m)
#        PODTRACE_E2E_PARALLEL (go test -parallel, default 16: scenarios mostly wait)
#        PODTRACE_E2E_CACHE   (binary cache root, see build.sh)
#        PODTRACE_E2E_KEEP=1  (keep each cluster's run dir: logs, audit log, certs)
set -euo pipefail

e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$e2e_dir/build.sh"
bin_dir=$("$e2e_dir/build.sh" --print-bin-dir)

cd "$e2e_dir"
export PODTRACE_E2E=1 PODTRACE_E2E_BIN="$bin_dir"
# -mod=mod: the suite builds the podtrace module from ../ (a replace), whose
# requirements change more often than this module's go.sum is refreshed.
exec go test -mod=mod -count=1 -timeout "${PODTRACE_E2E_TIMEOUT:-30m}" -parallel "${PODTRACE_E2E_PARALLEL:-16}" ./... "$@"
