// Package inflight bounds what podtrace's receivers (the audit webhook, OTLP
// over HTTP and gRPC) hold while requests are in flight: the request bytes
// read and not yet handed on, across all receivers together (Bound), and how
// slowly a body may arrive (Pace).
//
// Bytes are counted as they arrive, never by the length a request declares:
// a client declaring 32 MiB and sending a byte every few seconds holds a few
// bytes of the bound, not 32 MiB, and other requests go on being served. A
// read that does not fit fails with ErrFull (the receiver answers with its
// retryable overload error); a receiver may also refuse at once, before
// reading anything, while the bound is full.
package inflight
