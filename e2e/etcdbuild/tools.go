//go:build tools

// Package etcdbuild pins the etcd release the end-to-end suite runs.
package etcdbuild

import _ "go.etcd.io/etcd/server/v3"
