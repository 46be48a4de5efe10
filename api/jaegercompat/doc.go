// Package jaegercompat checks podtrace's Jaeger-compatible query API
// against a real Jaeger v2: the same delivery trace is sent to Jaeger over
// OTLP with the OpenTelemetry Go SDK, and the JSON Jaeger serves for it is
// compared, field by field, with what podtrace serves.
//
// The test runs Jaeger with package jaegertest, which needs the binary
// scripts/build-jaeger.sh builds and caches (≈10 minutes cold on 2 cores);
// without it, it skips and says so. CI builds it first. The package has no
// code besides its test.
package jaegercompat
