package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/sqlite"
)

// BenchmarkAppendEvents journals webhook-sized batches (400 events of
// 1.8 kB, the captures' average) with the default FULL sync.
func BenchmarkAppendEvents(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	body := make([]byte, 1800)
	for i := range body {
		body[i] = 'x'
	}
	b.SetBytes(400 * int64(len(body)))
	b.ReportAllocs()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		evs := make([]podtrace.JournalEvent, 400)
		for i := range evs {
			n++
			evs[i] = podtrace.JournalEvent{Cluster: "c", Key: fmt.Sprintf("%08d-0000-4000-8000-000000000000/ResponseComplete", n), UID: "u", Namespace: "ns", Name: "p", Time: time.Unix(0, int64(n)), Body: body}
		}
		if _, err := st.AppendEvents(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
	// CPU time, not wall time: on a shared machine wall time is mostly waiting
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/event")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
