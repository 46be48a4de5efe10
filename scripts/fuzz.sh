#!/usr/bin/env bash
# fuzz.sh DURATION: every fuzz target of the module for DURATION each; the
# first failure (a failing input written, a panic) fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./deploy/' | sort | while read -r f; do
  dir=$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
    echo "fuzz $dir $fn ($fuzztime)"
    go test -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" "$dir"
  done
done
