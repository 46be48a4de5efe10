// Package scenario drives pod deliveries against a cluster with client-go: the
// steps of the captured "kwok-only" scenario (shared/testdata), reusable by any
// end-to-end test that wants the same traffic, plus the waits they need
// (rollout complete, pod gone, FailedScheduling seen).
package scenario
