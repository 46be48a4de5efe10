// Package deliverymetrics exposes closed pod deliveries as Prometheus
// metrics, with exemplars carrying the delivery's trace_id when it has one
// (served only in the OpenMetrics format: promhttp.HandlerOpts{EnableOpenMetrics: true}).
//
//	podtrace_pod_delivery_duration_seconds{kind,outcome,namespace}   histogram
//	podtrace_pod_phase_duration_seconds{phase,owner}                 histogram
//	podtrace_pod_startup_sli_duration_seconds                        histogram
//	podtrace_slo_deliveries_total{kind,result="met|violated"}        counter
//	podtrace_diagnosis_total{code,phase,owner}                       counter
//
// Labels stay bounded: namespaces outside the allow-list (or beyond the
// first MaxNamespaces seen, without one) are "other"; pod names, nodes and
// users are never labels. Codes, phases, kinds and outcomes are closed sets.
//
// Observe is called once per delivery, when it closes; the caller (the
// ingest pipeline, which records each closure in lifecycle.Pod.Reported)
// guarantees it. The Recorder does not de-duplicate: calling it twice for
// one delivery counts it twice.
package deliverymetrics
