// Package grafana holds podtrace's Grafana dashboards (dashboards/*.json)
// and the provisioning files that load them with their data sources
// (provisioning/): a Prometheus scraping podtrace's /metrics, whose
// exemplars (trace_id) open in a Jaeger data source pointed at podtrace's
// own Jaeger-compatible query API — a delivery's trace for the delivery
// metrics, the apiserver's or kubelet's own trace for the span metrics.
//
// The package has no code: its test parses every dashboard and checks that
// each PromQL query parses and names only metrics (and labels) podtrace
// exports.
package grafana
