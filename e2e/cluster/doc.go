// Package cluster runs a real Kubernetes control plane on 127.0.0.1 for
// podtrace's end-to-end tests: etcd, kube-apiserver, kube-scheduler,
// kube-controller-manager, KWOK with fake nodes and optionally a hollow kubelet
// (real kubelet code on a fake container runtime), built by e2e/build.sh.
//
// kube-apiserver gets its audit policy, audit webhook kubeconfig, audit webhook
// flags and tracing configuration from podtrace's clusterconfig package, so the
// tests prove the generated files on a real apiserver. A test points the audit
// webhook and the OTLP exporters at the podtrace (or recorder) under test:
//
//	c := cluster.Start(t, cluster.Options{AuditWebhookURL: url, OTLPEndpoint: addr})
//	c.Client.CoreV1().Pods(ns).Create(...)
//	c.Stop() // flushes the last audit and span batches
//	events := read(c.AuditLogPath)
//
// Every daemon runs in its own process group with a parent-death signal, is
// stopped newest first by Stop or the test's cleanup, and logs to files under
// the run directory, whose tails are printed when the test fails.
//
// Start skips the test unless PODTRACE_E2E=1, and when the binaries are not
// built (see e2e/build.sh, or set PODTRACE_E2E_BIN to their directory).
package cluster
