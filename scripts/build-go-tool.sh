#!/usr/bin/env bash
# Builds a Go program of another project in a throwaway module outside the
# repository and caches the binary as
# ${PODTRACE_PEERS:-$HOME/.cache/podtrace-peers}/NAME-VERSION/NAME; prints its path.
#
#   bash scripts/build-go-tool.sh NAME VERSION MODULE PACKAGE
#
# The throwaway module requires MODULE@VERSION, repeats its replace lines
# (`go install pkg@version` refuses modules that have some) and starts from
# its go.sum (the module proxy here does not answer every checksum lookup),
# so the build sees the versions the program was released with.
set -euo pipefail
# a peer is built with the machine's own Go, whatever toolchain podtrace
# itself is built with (go.mod)
export GOTOOLCHAIN=local

NAME=$1 VERSION=$2 MODULE=$3 PACKAGE=$4
DIR="${PODTRACE_PEERS:-$HOME/.cache/podtrace-peers}/$NAME-$VERSION"
BIN="$DIR/$NAME"

if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi
mkdir -p "$DIR/src"
exec 9>"$DIR/.lock"
flock 9 # one build at a time; a second caller waits and reuses it
if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi
cd "$DIR/src"
export GOFLAGS=-mod=mod
moddir=$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$moddir" ] || [ ! -f "$moddir/go.mod" ]; then
  echo "build-go-tool: could not download $MODULE@$VERSION" >&2
  exit 1
fi
{
  echo "module podtrace.local/${NAME}build"
  echo
  grep -m1 '^go ' "$moddir/go.mod"
  echo
  echo "require $MODULE $VERSION"
  echo
  # the module's own replace lines (single-line form and block form)
  awk '/^replace \(/{b=1; next} b&&/^\)/{b=0; next} b{print "replace " $0; next} /^replace /{print}' "$moddir/go.mod"
} > go.mod
cp "$moddir/go.sum" go.sum
chmod u+w go.sum
cat > tools.go <<GO
//go:build tools

package ${NAME}build

import _ "$PACKAGE"
GO
go mod tidy >&2
nice -n 10 go build -tags tools -trimpath -o "$BIN.tmp" "$PACKAGE" >&2
mv "$BIN.tmp" "$BIN"
echo "$BIN"
