#!/usr/bin/env bash
# vulncheck.sh: govulncheck ./... at a pinned version. Findings fail (exit
# 3). Where the vulnerability database (vuln.go.dev) cannot be reached —
# machines that reach only the Go module proxy — it says so loudly and exits
# 0: no database, no verdict, rather than a red build for the network.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(go run golang.org/x/vuln/cmd/govulncheck@v1.1.4 ./... 2>&1)
rc=$?
echo "$out"
if [ $rc -ne 0 ] && grep -qiE 'fetching vulnerabilities|vuln.go.dev|dial tcp|no such host|connection refused|i/o timeout' <<<"$out"; then
  echo "vulncheck: SKIPPED — the vulnerability database is unreachable from this machine" >&2
  exit 0
fi
exit $rc
