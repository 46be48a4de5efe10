// Package api serves podtrace's data over HTTP: the versioned REST API
// (/api/v1/...: delivery records, a pod's deliveries with their audit
// evidence, SLO and diagnosis summaries), its OpenAPI 3.1 document
// (/openapi.json), and a Jaeger-compatible query API (/api/services,
// /api/traces, ...) that serves every delivery as a trace, so Jaeger UI and
// Grafana's Jaeger data source can show podtrace's traces.
//
// One table of routes (routes in api.go) mounts the handlers, validates
// query parameters (unknown ones are 400 on the REST API) and generates the
// OpenAPI document, so the document cannot leave a route out. Errors are
// mapped to statuses in one function, status. Aggregates (SLO and diagnosis
// summaries) are computed over pages of podtrace.Store.Records, so every
// Store implementation serves them.
package api
