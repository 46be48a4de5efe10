// Package daemon runs a program for the length of an end-to-end test: in a
// process group of its own (so a stop reaches its children), with a
// parent-death signal (so it cannot outlive the test binary), its output in a
// log file, and a graceful stop (SIGTERM, then SIGKILL after a grace period).
// Poll waits for a condition while the daemons live; Tidy keeps a failed
// test's run directory and prints its logs' tails. The cluster harness runs
// its control plane this way, and package instance runs podtrace.
package daemon
