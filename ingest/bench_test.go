package ingest_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/podtrace/podtrace/auditfile"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/synth"
)

// BenchmarkReplay: a synthetic log (the real capture replicated 20 times
// with new namespaces and uids) through the whole pipeline into SQLite.
func BenchmarkReplay(b *testing.B) {
	c, err := synth.Load("../testdata/kwok-only-v1.34.10/audit.log", "demo")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "audit.log")
	f, _ := os.Create(path)
	size, err := c.Write(f, 20)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	events := len(c.Lines) * 20
	b.SetBytes(size)
	b.ReportAllocs()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		st, err := sqlite.Open(ctx, filepath.Join(dir, "b"+string(rune('a'+i%26))+".db"), sqlite.Options{Sync: "NORMAL"})
		if err != nil {
			b.Fatal(err)
		}
		p := ingest.New(ingest.DefaultConfig(), st, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := p.Start(ctx); err != nil {
			b.Fatal(err)
		}
		r := auditfile.NewReader(p)
		if err := r.Replay(ctx, path, nil); err != nil {
			b.Fatal(err)
		}
		if err := r.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
