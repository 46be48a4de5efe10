package server

import (
	"fmt"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/diagnosis"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/slo"
)

// Analysis runs the analyses on a pod's records, in order: diagnosis (the
// findings), owner attribution of the phases (a user-caused failure makes
// its phase user time), then the SLO verdict, which needs both.
type Analysis struct {
	diag *diagnosis.Engine
	slo  *slo.Evaluator
	now  time.Time // event time of the current call: the diagnosis clock
}

// NewAnalysis builds the analyses from their configurations.
func NewAnalysis(dcfg diagnosis.Config, scfg slo.Config) (*Analysis, error) {
	a := &Analysis{}
	dcfg.Now = func() time.Time { return a.now }
	var err error
	if a.diag, err = diagnosis.New(dcfg); err != nil {
		return nil, fmt.Errorf("diagnosis: %w", err)
	}
	if a.slo, err = slo.New(scfg); err != nil {
		return nil, fmt.Errorf("slo: %w", err)
	}
	return a, nil
}

// Analyze implements ingest.Analyzer. It is called from the pipeline's one
// goroutine only.
func (a *Analysis) Analyze(p *lifecycle.Pod, recs []podtrace.Record, now time.Time) {
	a.now = now
	for i := range recs {
		r := &recs[i]
		r.Diagnosis = a.diag.Diagnose(p, r)
		r.Phases = slo.Attribute(r)
		r.SLO = a.slo.Evaluate(p, r)
	}
}
