//go:build tools

// Package kwokbuild pins the KWOK release the end-to-end suite runs.
package kwokbuild

import _ "sigs.k8s.io/kwok/cmd/kwok"
