// Package deploy holds podtrace's Kubernetes manifests — a Kustomize base
// with overlays and components (kustomize/) and a Helm chart
// (helm/podtrace) — and the tests that prove them: every rendering is
// checked offline against podtrace's own strict configuration loader and
// the deployment's invariants (non-root, read-only, no Kubernetes API
// access, probes, ports), and, with PODTRACE_E2E=1, applied to the e2e
// suite's real kube-apiserver with strict field validation, then run on a
// KWOK node. It is a module of its own so the Helm and Kustomize libraries
// never burden podtrace's. See docs/deploy.md.
package deploy
