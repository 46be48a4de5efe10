#!/usr/bin/env bash
# fuzz.sh DURATION: every fuzz target of the module for DURATION each.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime ends while a worker is mid-call
# (go.dev/issue/75804, fixed in Go 1.27): nothing was found, no input is
# written. Such a run is tried once more; any other failure — a failing
# input written, a panic, a second deadline failure — fails at once.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./deploy/' | sort | while read -r f; do
  dir=$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
    for try in 1 2; do
      echo "fuzz $dir $fn ($fuzztime)"
      go test -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" "$dir" 2>&1 | tee "$log"
      [ "${PIPESTATUS[0]}" -eq 0 ] && break
      if [ "$try" -eq 1 ] && grep -q 'context deadline exceeded' "$log" &&
        ! grep -qE 'Failing input written|panic:|\.go:[0-9]+: ' "$log"; then
        echo "fuzz $dir $fn: the run ended on the fuzz coordinator's deadline race (go.dev/issue/75804), nothing found; once more"
        continue
      fi
      exit 1
    done
  done
done
