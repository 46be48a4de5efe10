// Package clusterconfig generates the files a Kubernetes cluster needs to send
// podtrace what it consumes: an audit policy and an audit webhook kubeconfig for
// kube-apiserver (audit events in batches to podtrace's /audit endpoint), the
// kube-apiserver flags that use them, and OpenTelemetry tracing configuration for
// kube-apiserver, the kubelet, containerd and CRI-O (spans to podtrace's OTLP
// gRPC receiver).
//
// Generate is pure: it validates Options and renders every file in memory, never
// reading the credential files it refers to (they must exist on the control-plane
// nodes, not where the generator runs). WriteDir writes the same files to a
// directory. The end-to-end suite (e2e/cluster) starts a real kube-apiserver with
// the generated audit policy, webhook kubeconfig, flags and tracing configuration,
// so what this package emits is proven on a real cluster.
package clusterconfig
