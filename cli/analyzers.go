package cli

import (
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/server"
)

// analyzers are the analyses replay runs on every changed pod: the
// server's defaults, so a replayed file and a live feed get the same
// findings and verdicts.
func analyzers() ([]ingest.Analyzer, error) {
	def := server.DefaultConfig()
	a, err := server.NewAnalysis(def.Diagnosis, def.SLO)
	if err != nil {
		return nil, err
	}
	return []ingest.Analyzer{a}, nil
}
