//go:build tools

// Package containerdbuild pins the containerd release the real-node end-to-end
// tests run: a 2.x build, whose OTLP tracing plugin sends its CRI spans to the
// cluster's OTLP endpoint (Debian's containerd 1.6 has none). The tools build
// tag keeps these imports out of ordinary builds while `go mod tidy` still
// records them.
package containerdbuild

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
