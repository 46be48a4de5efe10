package cli

import "github.com/podtrace/podtrace/ingest"

// analyzers are the analyses run on every changed pod.
func analyzers() []ingest.Analyzer { return nil }
