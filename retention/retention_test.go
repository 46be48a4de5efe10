package retention_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/retention"
	"github.com/podtrace/podtrace/sqlite"
)

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true}, {"0d", 0, true}, {"720h", 720 * time.Hour, true}, {"90m", 90 * time.Minute, true},
		{"1.5d", 0, false}, {"-1d", 0, false}, {"d", 0, false}, {"30", 0, false}, {"", 0, false},
	} {
		got, err := retention.ParseDuration(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

// TestSoak writes an hour of synthetic pods, records and journal events per
// round with a clock that moves an hour a round, keeping 10 hours: after
// the window fills, the rows held and the database file stay flat.
func TestSoak(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "soak.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{Sync: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := retention.DefaultConfig()
	cfg.Cluster, cfg.Keep, cfg.Batch, cfg.Pause = "soak", 10*time.Hour, 300, 0
	cfg.Now = func() time.Time { return now }
	sw := retention.New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const rounds, perRound = 30, 400
	body := make([]byte, 1500) // about an audit event's redacted size
	for i := range body {
		body[i] = 'x'
	}
	size := func() int64 {
		// the data, not how far the checkpointer has got
		if err := st.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, f := range []string{path, path + "-wal"} {
			if fi, err := os.Stat(f); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	var rows, sizes []int64
	for r := range rounds {
		evs := make([]podtrace.JournalEvent, perRound)
		pods := make([]podtrace.PodState, perRound)
		recs := make([]podtrace.Record, perRound)
		for i := range evs {
			at := now.Add(time.Duration(i) * time.Second)
			uid := fmt.Sprintf("r%d-%d", r, i)
			evs[i] = podtrace.JournalEvent{Cluster: "soak", Key: uid + "/ResponseComplete", UID: uid, Namespace: "ns", Name: uid, Time: at, Body: body}
			pods[i] = podtrace.PodState{Cluster: "soak", UID: uid, Namespace: "ns", Name: uid, Created: at.UnixNano(), LastSeen: at.UnixNano(), State: body[:500]}
			fin := at.Add(time.Second)
			recs[i] = podtrace.Record{Cluster: "soak", UID: uid, Namespace: "ns", Name: uid, Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeReady, Created: at, Finished: &fin}
		}
		if _, err := st.AppendEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := st.Save(ctx, podtrace.Commit{Cluster: "soak", Pods: pods, Records: recs, Applied: evs[len(evs)-1].Seq}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
		if _, err := sw.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		recsLeft, _, err := st.Records(ctx, podtrace.RecordFilter{Cluster: "soak", Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, int64(len(recsLeft)))
		sizes = append(sizes, size())
	}
	// the window holds 10 rounds (the 11th is under the cut by a second or more)
	for r := 12; r < rounds; r++ {
		if rows[r] != rows[11] {
			t.Fatalf("round %d holds %d records, round 11 held %d: not flat", r, rows[r], rows[11])
		}
	}
	if rows[11] > 11*perRound {
		t.Fatalf("%d records held, more than the window's %d", rows[11], 11*perRound)
	}
	if last, warm := sizes[rounds-1], sizes[15]; float64(last) > 1.2*float64(warm) {
		t.Fatalf("database grew from %d bytes (round 15) to %d (round %d): not flat", warm, last, rounds-1)
	}
	if sw.Stats.Deleted.Load() == 0 {
		t.Fatal("nothing deleted")
	}
	t.Logf("records held per round %v; bytes %v", rows, sizes)
}
