// Package e2e holds podtrace's end-to-end tests against a real Kubernetes
// control plane (see package cluster). They run only with PODTRACE_E2E=1 and
// the binaries from build.sh; run.sh does both:
//
//	e2e/run.sh                       # build (cached) and run every e2e test
//	PODTRACE_E2E=1 go test ./... -run KWOKOnly -v   # from e2e/, once built
package e2e
