#!/usr/bin/env bash
# Builds the real control plane the end-to-end suite runs — etcd, kube-apiserver,
# kube-scheduler, kube-controller-manager, kwok and a hollow kubelet — and the
# real node's kubelet, containerd and ctr, from the pinned modules in etcdbuild/,
# k8sbuild/, kwokbuild/ and containerdbuild/, into a cache directory
# keyed by the component versions and the Go version:
#
#   ${PODTRACE_E2E_CACHE:-$HOME/.cache/podtrace-e2e}/<key>/bin
#
# A binary is rebuilt only when it is missing or its build inputs (go.mod, go.sum,
# sources of its build module) changed. Cold: ~16–20 min on 2 cores (peak ~2 GB
# RAM, ~1.5 GB module cache, ~6 GB build cache); warm: a few seconds.
#
# Usage: e2e/build.sh                  build what is missing, print the bin dir last
#        e2e/build.sh --print-bin-dir  print the bin dir only, build nothing
# Needs only Go and the Go module proxy.
set -euo pipefail
# The control plane is a test peer: built with the machine's own Go, as the
# recipe verified, whatever toolchain podtrace itself is built with (go.mod).
export GOTOOLCHAIN=local

e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# modver DIR MODULE prints MODULE's version as required by DIR/go.mod.
modver() {
	awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { print ($1 == m ? $2 : $3); exit }' "$e2e_dir/$1/go.mod"
}

etcd_version=$(modver etcdbuild go.etcd.io/etcd/server/v3)
k8s_version=$(modver k8sbuild k8s.io/kubernetes)
kwok_version=$(modver kwokbuild sigs.k8s.io/kwok)
go_version=$(go env GOVERSION)
for v in etcd_version k8s_version kwok_version go_version; do
	if [[ -z ${!v} ]]; then
		echo "build.sh: cannot determine $v" >&2
		exit 1
	fi
done
key="etcd-${etcd_version}_k8s-${k8s_version}_kwok-${kwok_version}_${go_version}_$(go env GOOS)-$(go env GOARCH)"
cache_root=${PODTRACE_E2E_CACHE:-$HOME/.cache/podtrace-e2e}
bin_dir="$cache_root/$key/bin"

if [[ ${1:-} == --print-bin-dir ]]; then
	echo "$bin_dir"
	exit 0
elif [[ $# -gt 0 ]]; then
	echo "usage: $0 [--print-bin-dir]" >&2
	exit 2
fi

mkdir -p "$bin_dir"
# One build at a time per cache key (a developer and CI may share a machine).
exec 9>"$cache_root/$key/.lock"
flock 9

# inputs_hash DIR PACKAGE LDFLAGS hashes what a binary is built from: the build
# module's go.mod/go.sum, the flags and, for a package inside the module, its sources.
inputs_hash() {
	local dir=$e2e_dir/$1
	{
		cat "$dir/go.mod" "$dir/go.sum"
		echo "$2 $3"
		if [[ $2 == ./* ]]; then
			find "$dir/$2" -type f -name '*.go' -print0 | LC_ALL=C sort -z | xargs -0 cat
		fi
	} | sha256sum | cut -d' ' -f1
}

# build NAME MODULE_DIR PACKAGE [LDFLAGS [TAGS]] builds one binary unless it is up
# to date. With TAGS it is built static (CGO_ENABLED=0) with those build tags.
build() {
	local name=$1 dir=$2 pkg=$3 ldflags=${4:-} tags=${5:-}
	local out="$bin_dir/$name" stamp="$bin_dir/.$name.inputs" want
	want=$(inputs_hash "$dir" "$pkg" "$ldflags $tags")
	if [[ -x $out && -f $stamp && $(<"$stamp") == "$want" ]]; then
		echo "build.sh: $name up to date"
		return
	fi
	echo "build.sh: building $name from $dir ($pkg)"
	local start=$SECONDS
	local -a env=()
	[[ -n $tags ]] && env=(CGO_ENABLED=0)
	(cd "$e2e_dir/$dir" && env "${env[@]}" nice -n 10 go build -trimpath -buildvcs=false \
		${tags:+-tags "$tags"} -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
	mv -f "$out.tmp" "$out"
	echo "$want" >"$stamp"
	echo "build.sh: built $name in $((SECONDS - start))s"
}

k8s_minor=${k8s_version#v}
k8s_minor=${k8s_minor#*.}
k8s_minor=${k8s_minor%%.*}
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=$k8s_version
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor
 -X k8s.io/component-base/version.gitTreeState=clean
 -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version
 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$k8s_minor"
k8s_ldflags=${k8s_ldflags//$'\n'/}

build etcd etcdbuild go.etcd.io/etcd/server/v3
build kwok kwokbuild sigs.k8s.io/kwok/cmd/kwok
build kube-apiserver k8sbuild k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build kube-scheduler k8sbuild k8s.io/kubernetes/cmd/kube-scheduler "$k8s_ldflags"
build kube-controller-manager k8sbuild k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
build hollow-kubelet k8sbuild ./hollowkubelet "$k8s_ldflags"
# the real node: kubelet, and containerd 2.x (its OTLP tracing plugin; Debian's
# 1.6 has none) with its ctr, static and without the snapshotters that need cgo
build kubelet k8sbuild k8s.io/kubernetes/cmd/kubelet "$k8s_ldflags"
containerd_version=$(modver containerdbuild github.com/containerd/containerd/v2)
containerd_ldflags="-X github.com/containerd/containerd/v2/version.Version=$containerd_version"
build containerd containerdbuild github.com/containerd/containerd/v2/cmd/containerd "$containerd_ldflags" "no_btrfs no_devmapper no_zfs"
build ctr containerdbuild github.com/containerd/containerd/v2/cmd/ctr "$containerd_ldflags" "no_btrfs no_devmapper no_zfs"
build containerd-shim-runc-v2 containerdbuild github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 "$containerd_ldflags" "no_btrfs no_devmapper no_zfs"

echo "$bin_dir"
