package correlate_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/auditfile"
	"github.com/podtrace/podtrace/correlate"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/otlp"
	"github.com/podtrace/podtrace/sqlite"
)

const mixed = "../testdata/mixed-kwok-hollowkubelet-v1.34.10/"

// replays caches the replays of the capture, which several tests read.
var replays sync.Map // replayKey → replayed

type replayKey struct {
	limit      int
	spansFirst bool
}

// cachedReplay is replay with the default config but limit, no extra spans.
func cachedReplay(t testing.TB, limit int, spansFirst bool) replayed {
	k := replayKey{limit, spansFirst}
	if r, ok := replays.Load(k); ok {
		return r.(replayed)
	}
	cfg := correlate.DefaultConfig()
	cfg.MaxSpansPerPod = limit
	r := replay(t, cfg, spansFirst)
	replays.Store(k, r)
	return r
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// replayed is what a replay left: the records and the joiner's counters.
type replayed struct {
	records []podtrace.Record
	joiner  *correlate.Joiner
	reg     *prometheus.Registry
}

// replay ingests the audit log and the OTLP file through a real pipeline and
// SQLite store, in the order given by spansFirst, then the extra spans.
func replay(t testing.TB, cfg correlate.Config, spansFirst bool, extra ...otlp.Span) replayed {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{Sync: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	cfg.Block = true
	j, err := correlate.New(cfg, reg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	pcfg := ingest.DefaultConfig()
	pcfg.Cluster = cfg.Cluster
	p := ingest.New(pcfg, st, []ingest.Analyzer{j}, nil, quiet())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	j.Start(p)
	spans := func() {
		var d otlp.Decoder
		if _, err := otlp.ReadFile(ctx, mixed+"otlp-raw.jsonl", func(pb []byte) error {
			sp, _, err := d.Decode(pb)
			if err != nil {
				return err
			}
			return j.ConsumeSpans(ctx, sp)
		}); err != nil {
			t.Fatal(err)
		}
	}
	audit := func() {
		r := auditfile.NewReader(p)
		if err := r.Replay(ctx, mixed+"audit.log", nil); err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if spansFirst {
		spans()
		audit()
	} else {
		audit()
		spans()
	}
	if len(extra) > 0 {
		if err := j.ConsumeSpans(ctx, extra); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	recs, _, err := st.Records(ctx, podtrace.RecordFilter{Cluster: cfg.Cluster, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return replayed{records: recs, joiner: j, reg: reg}
}
