#!/usr/bin/env bash
# vulncheck.sh: govulncheck ./... at a pinned version against the Go
# vulnerability database. Findings fail (exit 3).
#
# The database: VULNDB (its URL, or file:///path of a local copy) when set;
# otherwise https://vuln.go.dev, and where that cannot be reached — machines
# that reach only the Go module proxy — the same reports as the module proxy
# serves them: the newest golang.org/x/vulndb, whose data/osv the database is
# made from, indexed by that module's own cmd/indexdb. A database that cannot
# be read, or a copy that cannot be made, fails: no database, no pass.
#
# First it checks that the gate can fail: against a database made here that
# holds one made-up vulnerability in encoding/json.Marshal, which podtrace
# calls, govulncheck must report it and exit 3.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
GOBIN=$tmp go install golang.org/x/vuln/cmd/govulncheck@v1.9.0 || exit 1
govulncheck=("$tmp/govulncheck")

id=GO-2026-9999
at=2026-01-01T00:00:00Z
mkdir -p "$tmp/db/index" "$tmp/db/ID"
echo "{\"modified\":\"$at\"}" >"$tmp/db/index/db.json"
echo "[{\"path\":\"stdlib\",\"vulns\":[{\"id\":\"$id\",\"modified\":\"$at\"}]}]" >"$tmp/db/index/modules.json"
echo "[{\"id\":\"$id\",\"modified\":\"$at\",\"aliases\":[]}]" >"$tmp/db/index/vulns.json"
cat >"$tmp/db/ID/$id.json" <<EOF
{"schema_version":"1.3.1","id":"$id","modified":"$at","published":"$at",
 "details":"made up by scripts/vulncheck.sh to check that a finding fails the check",
 "affected":[{"package":{"name":"stdlib","ecosystem":"Go"},
   "ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}],
   "ecosystem_specific":{"imports":[{"path":"encoding/json","symbols":["Marshal"]}]}}],
 "database_specific":{"url":"https://pkg.go.dev/vuln/$id"}}
EOF
out=$("${govulncheck[@]}" -db "file://$tmp/db" ./... 2>&1)
rc=$?
if [ $rc -ne 3 ] || ! grep -q "Vulnerability #1: $id" <<<"$out"; then
  echo "$out"
  echo "vulncheck: FAILED — govulncheck did not report the made-up $id in encoding/json.Marshal (exit $rc): a real finding would go unnoticed" >&2
  exit 1
fi
echo "vulncheck: the gate fails on a finding (made-up $id reported, exit $rc)"

if [ -n "${VULNDB:-}" ]; then
  db=$VULNDB
else
  db=https://vuln.go.dev
  out=$("${govulncheck[@]}" -db "$db" ./... 2>&1)
  rc=$?
  if [ $rc -eq 1 ] && grep -qE '(dial tcp|no such host|connection refused|i/o timeout|TLS handshake timeout|network is unreachable)' <<<"$out"; then
    # vuln.go.dev is unreachable: the module proxy's copy of its reports
    v=$(go mod download -json golang.org/x/vulndb@latest | sed -n 's/^[[:space:]]*"Version": "\(.*\)",$/\1/p') &&
      v=$(go list -m -f '{{.Version}} {{.Time.Format "2006-01-02"}} {{.Dir}}' "golang.org/x/vulndb@$v") && [ -n "$v" ] || {
      echo "vulncheck: FAILED — $db is unreachable and the module proxy serves no golang.org/x/vulndb" >&2
      exit 1
    }
    read -r version when dir <<<"$v"
    GOFLAGS=-mod=mod go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$dir/data/osv" -out "$tmp/vulndb" || {
      echo "vulncheck: FAILED — could not index golang.org/x/vulndb@$version" >&2
      exit 1
    }
    echo "vulncheck: $db is unreachable; checking against golang.org/x/vulndb@$version from the module proxy (reports up to $when, $(ls "$dir/data/osv" | wc -l) of them)"
    db=file://$tmp/vulndb
  else
    echo "$out"
    exit $rc
  fi
fi
out=$("${govulncheck[@]}" -db "$db" ./... 2>&1)
rc=$?
echo "$out"
exit $rc
