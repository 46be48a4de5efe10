// Package jaegertest runs a real Jaeger v2 for tests that compare with it
// or export to it: in-memory storage, OTLP receivers (gRPC and HTTP) and
// the query API on loopback ports, stopped when the test ends.
//
// The binary is the one scripts/build-jaeger.sh builds and caches
// (≈10 minutes cold on 2 cores): $JAEGER_BIN, else
// ${PODTRACE_PEERS:-$HOME/.cache/podtrace-peers}/jaeger-v1.76.0/jaeger.
// Without it, tests skip and say so; CI builds it first.
package jaegertest
