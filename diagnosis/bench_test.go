package diagnosis

import (
	"path/filepath"
	"testing"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/lifecycle"
)

// BenchmarkDiagnose diagnoses every record of the mixed capture.
func BenchmarkDiagnose(b *testing.B) {
	m := replayFile(b, filepath.Join("..", "testdata", captures[1], "audit.log"))
	type pr struct {
		p *lifecycle.Pod
		r podtrace.Record
	}
	var all []pr
	for _, p := range m.Dirty() {
		for _, r := range p.Records("bench") {
			all = append(all, pr{p, r})
		}
	}
	e := engine(b, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range all {
			e.Diagnose(all[i].p, &all[i].r)
		}
	}
	b.ReportMetric(float64(len(all)), "records/op")
}
