// Package otlp is podtrace's OpenTelemetry source: it receives component
// spans (kube-apiserver, kubelet, container runtimes) over OTLP — gRPC, and
// HTTP POST /v1/traces with protobuf or JSON bodies, gzip or not — and reads
// OTLP/JSON files for replay.
//
// Decode once, only what is needed. A request is decoded by walking its
// protobuf encoding (Decoder) and keeping, per span, the ids, name, times,
// status and the handful of attributes podtrace reads (Attrs), as byte slices
// into the request: a span nobody keeps costs no allocation. OTLP/JSON is
// first transcoded to the protobuf encoding (JSONToProto), accepting trace and
// span ids in hex (the OTLP/JSON rule) and base64 (what protojson writes).
//
// Data flows on through a Consumer, which must copy what it keeps before it
// returns. Errors follow the OTLP specification: malformed data is a permanent
// error (HTTP 400, gRPC InvalidArgument); an overloaded consumer a retryable
// one (HTTP 503 with Retry-After, gRPC Unavailable with RetryInfo); spans with
// invalid ids are left out and reported as a partial success. A receiver may
// ask for a bearer token (HTTP 401, gRPC Unauthenticated), a client
// certificate over gRPC, and hold requests within an in-flight byte bound
// shared with other receivers (inflight.Bound; overload as above): HTTP
// bodies counted as they arrive, gRPC calls checked and admitted from their
// headers, before gRPC reads their message. Every request
// received may also be forwarded, optionally sampled by trace id, to a
// downstream OTLP endpoint (Forwarder), so podtrace can stand where an
// OpenTelemetry Collector stands.
package otlp
