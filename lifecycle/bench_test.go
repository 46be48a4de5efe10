package lifecycle_test

import (
	"runtime"
	"testing"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/synth"
)

// synthEvents decodes copies of the capture with distinct namespaces/uids.
func synthEvents(b *testing.B, copies int) ([]*decode.Event, int64) {
	c, err := synth.Load("../testdata/mixed-kwok-hollowkubelet-v1.34.10/audit.log", "demo")
	if err != nil {
		b.Fatal(err)
	}
	var d decode.Decoder
	var evs []*decode.Event
	var buf []byte
	var n int64
	for k := range copies {
		for i := range c.Lines {
			buf = c.Copy(buf[:0], i, k)
			n += int64(len(buf))
			d.Decode(buf, func(ev *decode.Event) { evs = append(evs, ev) })
		}
	}
	return evs, n
}

// BenchmarkApply: decoded events through the state machine.
func BenchmarkApply(b *testing.B) {
	evs, _ := synthEvents(b, 20)
	b.ReportAllocs()
	for b.Loop() {
		m := lifecycle.New(lifecycle.DefaultConfig(), nil)
		for _, ev := range evs {
			m.Apply(ev)
		}
	}
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPodMemory reports the heap a pod's state takes in memory
// (B/pod), over many pods of every outcome in the capture.
func BenchmarkPodMemory(b *testing.B) {
	evs, _ := synthEvents(b, 200)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := lifecycle.New(lifecycle.DefaultConfig(), nil)
		for _, ev := range evs {
			m.Apply(ev)
		}
		m.Dirty()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(m.Len()), "B/pod")
		runtime.KeepAlive(m)
	}
}
