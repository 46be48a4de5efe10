// Package traceexport exports one OpenTelemetry trace per closed pod
// delivery, with the OpenTelemetry Go SDK (batching, retry) over OTLP gRPC
// or HTTP.
//
// A delivery's trace has a root span "pod <kind> <namespace>/<name>" from
// its creation to its end, one child span per phase (attribute
// podtrace.owner: platform or user), the milestones as events of the root,
// the findings as events of their phase with an error status, and the
// component spans joined to the delivery (correlate) as span links. Its
// attributes follow the OpenTelemetry k8s.* semantic conventions. Trace and
// span ids are derived from the delivery's identity (podtrace.DeliveryTraceID,
// podtrace.DeliverySpanID), so a replay and a live run export the same trace
// and the trace API serves it under the same id.
//
// Exporting never blocks ingest: closed records wait in a bounded queue
// (beyond it they are dropped and counted) for Delay, so component spans
// that arrive after the audit event closing the delivery are linked too, and
// are then read again from the store before they are exported.
package traceexport
