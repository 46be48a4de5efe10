//go:build tools

// Package k8sbuild pins the Kubernetes release the end-to-end suite builds its
// control plane from. The tools build tag keeps these imports out of ordinary
// builds while `go mod tidy` still records them.
package k8sbuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
