package sqlite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/sqlite"
)

// BenchmarkAppendEvents journals webhook-sized batches (400 events, the
// redacted events of the real mixed capture in turn, as the journal keeps
// them: compressed, which a made-up body would not show; 20 events a pod;
// auditIDs and pods in no order, so the key and uid indexes are written
// where a real journal's are: the apiserver's auditIDs and pod uids are
// random UUIDs) with the default FULL sync.
func BenchmarkAppendEvents(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	bodies := captureBodies(b)
	var size int64
	for i := range 400 {
		size += int64(len(bodies[i%len(bodies)]))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		evs := make([]podtrace.JournalEvent, 400)
		for i := range evs {
			n++
			pod := (n / 20) * 2654435761 % 1000003 // 20 events a pod, pods in no order
			evs[i] = podtrace.JournalEvent{Cluster: "c", Key: fmt.Sprintf("%08x-0000-4000-8000-000000000000/ResponseComplete", uint32(n)*0x9e3779b1), UID: fmt.Sprintf("%08x-uid", pod), Namespace: "ns", Name: fmt.Sprintf("p-%08x", pod), Time: time.Unix(0, int64(n)), Body: bodies[i%len(bodies)]}
		}
		if _, err := st.AppendEvents(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
	// CPU time, not wall time: on a shared machine wall time is mostly waiting
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/event")
}

// captureBodies are the redacted events of the real mixed capture.
func captureBodies(b *testing.B) [][]byte {
	raw, err := os.ReadFile("../testdata/mixed-kwok-hollowkubelet-v1.34.10/audit.log")
	if err != nil {
		b.Fatal(err)
	}
	d := decode.Decoder{KeepRaw: true}
	var out [][]byte
	for line := range bytes.Lines(raw) {
		d.Decode(line, func(ev *decode.Event) { out = append(out, ev.Raw) })
	}
	if len(out) == 0 {
		b.Fatal("no events in the capture")
	}
	return out
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSave saves parts of a pipeline save: 32 changed pods (2.5 kB
// states) with their 50 records (the real captures' records), as upserts
// over rows saved before, the pipeline's steady state.
func BenchmarkSave(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	raw, err := os.ReadFile("../lifecycle/testdata/kwok-only-v1.34.10.records.golden.json")
	if err != nil {
		b.Fatal(err)
	}
	var real []podtrace.Record
	if err := json.Unmarshal(raw, &real); err != nil {
		b.Fatal(err)
	}
	state := bytes.Repeat([]byte("x"), 2500)
	const pods, recs = 32, 50
	part := func(round, i int) podtrace.Commit {
		c := podtrace.Commit{Cluster: "c", Applied: int64(round + 1), Partial: true}
		for j := range pods {
			uid := fmt.Sprintf("uid-%d-%d", i, j)
			c.Pods = append(c.Pods, podtrace.PodState{Cluster: "c", UID: uid, Namespace: "ns", Name: uid, Created: int64(j), LastSeen: int64(round), State: state})
		}
		for j := range recs {
			r := real[j%len(real)]
			r.Cluster, r.UID = "c", fmt.Sprintf("uid-%d-%d", i, j%pods)
			r.Seq = j / pods
			c.Records = append(c.Records, r)
		}
		return c
	}
	var size int64
	for _, r := range part(0, 0).Records {
		j, _ := json.Marshal(&r)
		size += int64(len(j))
	}
	b.SetBytes(size + pods*int64(len(state)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		if err := st.Save(ctx, part(n, n%64)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/part")
}
