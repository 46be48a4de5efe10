package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/diagnosis"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/storetest"
)

// TestSilentOpenPodsAge replays real events from the end-to-end suite
// (testdata/silent-open-pods.audit.log): pod "held" deleted but kept by a
// finalizer, pod "never-ready" running but never Ready, pod "ready-late"
// Ready 20 s after its containers started. The last event, ready-late's
// Ready, comes 17.7 s after anything about the other two, in a batch of its
// own. The stuck deliveries must be analysed again at that later event time
// although no event about them arrived: held's delete gets
// DeleteBlockedByFinalizer and never-ready's create ReadinessSlow.
func TestSilentOpenPodsAge(t *testing.T) {
	data, err := os.ReadFile("testdata/silent-open-pods.audit.log")
	if err != nil {
		t.Fatal(err)
	}
	var events []*decode.Event
	d := decode.Decoder{KeepRaw: true}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if err := d.Decode(sc.Bytes(), func(ev *decode.Event) {
			cp := *ev
			cp.Patch = bytes.Clone(ev.Patch) // ev's slices are the decoder's
			events = append(events, &cp)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(events) < 2 {
		t.Fatalf("%d events", len(events))
	}

	cfg := diagnosis.DefaultConfig()
	cfg.TerminationSlack, cfg.ReadinessSlow = 5*time.Second, 10*time.Second // the suite's
	var clock time.Time
	cfg.Now = func() time.Time { return clock }
	eng, err := diagnosis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	analyse := ingest.AnalyzerFunc(func(p *lifecycle.Pod, recs []podtrace.Record, now time.Time) {
		clock = now
		for i := range recs {
			recs[i].Diagnosis = eng.Diagnose(p, &recs[i])
		}
	})

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "podtrace.db"), sqlite.Options{Sync: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pcfg := ingest.DefaultConfig()
	pcfg.FlushEvents = 1 // save after every batch: the second batch finds the first saved
	p := ingest.New(pcfg, st, []ingest.Analyzer{analyse}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	last := len(events) - 1
	for _, b := range [][]*decode.Event{events[:last], events[last:]} {
		storetest.Journal(t, p, b)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	for _, want := range []struct {
		name string
		kind podtrace.Kind
		code string // "" for none
	}{
		{"held", podtrace.KindDelete, "DeleteBlockedByFinalizer"},
		{"never-ready", podtrace.KindCreate, "ReadinessSlow"},
		{"ready-late", podtrace.KindCreate, ""},
	} {
		recs, _, err := st.Records(ctx, podtrace.RecordFilter{Cluster: pcfg.Cluster, Name: want.name, Kind: want.kind, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 {
			t.Fatalf("%s: %d %s records, want 1", want.name, len(recs), want.kind)
		}
		var codes []string
		for _, f := range recs[0].Diagnosis {
			codes = append(codes, f.Code)
		}
		switch {
		case want.code == "" && len(codes) > 0:
			t.Errorf("%s %s: findings %v, want none", want.name, want.kind, codes)
		case want.code != "" && !slices.Contains(codes, want.code):
			t.Errorf("%s %s (outcome %s): findings %v, want %s after 17.7 s without news", want.name, want.kind, recs[0].Outcome, codes, want.code)
		}
	}
}
