// Package instance builds the podtrace binary of this repository and runs
// `podtrace serve` as a separate process for an end-to-end test: its own
// SQLite database, every listener on a free 127.0.0.1 port (it binds :0 and
// the addresses are read back from its log), OTLP gRPC and HTTP receivers,
// and optionally TLS and an ingest token the audit webhook must present.
//
//	pt := instance.Start(t, instance.Options{Config: "diagnosis:\n  readiness_slow: 20s\n"})
//	c := cluster.Start(t, cluster.Options{AuditWebhookURL: pt.URL + "/audit", OTLPEndpoint: pt.OTLPGRPC})
//
//	pt := instance.Start(t, instance.Options{TLS: true, IngestToken: true})
//	c := cluster.Start(t, cluster.Options{AuditWebhookURL: pt.URL + "/audit",
//		AuditWebhookTokenFile: pt.TokenFile, AuditWebhookCAFile: pt.CAFile})
//	page, err := pt.Deliveries(ctx, namespace) // GET /api/v1/pods?namespace=…
//
// Start registers the teardown with t.Cleanup: SIGTERM (podtrace drains and
// saves), then SIGKILL after a grace period. A failing test keeps the run
// directory (log, database, configuration) and prints the log's tail.
// Started before the cluster, podtrace is stopped after it, so it receives
// the apiserver's last audit batch.
package instance
