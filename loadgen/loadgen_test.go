package loadgen_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/loadgen"
	"github.com/podtrace/podtrace/server"
	"github.com/podtrace/podtrace/sqlite"
)

const capture = "../testdata/mixed-kwok-hollowkubelet-v1.34.10/audit.log"

// records replays bodies through the decoder and the lifecycle machine and
// returns the records by outcome, and the distinct event keys.
func records(t *testing.T, bodies [][]byte) (map[string]int, map[string]bool) {
	t.Helper()
	m := lifecycle.New(lifecycle.DefaultConfig(), nil)
	keys := map[string]bool{}
	var d decode.Decoder
	for _, b := range bodies {
		if err := d.Decode(b, func(ev *decode.Event) {
			keys[ev.Key()] = true
			m.Apply(ev)
		}); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]int{}
	for _, p := range m.Dirty() {
		for _, r := range p.Records("c") {
			out[string(r.Kind)+"/"+string(r.Outcome)]++
		}
	}
	return out, keys
}

// TestCopiesAreNewPods: three copies of the capture give three times its
// records, no event key twice; a restamped batch is new pods again.
func TestCopiesAreNewPods(t *testing.T) {
	g, err := loadgen.FromAuditLog(capture)
	if err != nil {
		t.Fatal(err)
	}
	g.BatchEvents = g.EventsPerCopy() // one batch, one copy
	one := g.Batches(0, 1)
	three := g.Batches(0, 3)
	if !json.Valid(three[2].Body) {
		t.Fatal("a batch is not valid JSON")
	}
	want, wantKeys := records(t, [][]byte{one[0].Body})
	var bodies [][]byte
	for _, b := range three {
		bodies = append(bodies, b.Body)
	}
	got, keys := records(t, bodies)
	if len(keys) != 3*len(wantKeys) {
		t.Errorf("%d distinct event keys in 3 copies, want 3×%d", len(keys), len(wantKeys))
	}
	if len(want) == 0 {
		t.Fatal("the capture gives no records")
	}
	for k, n := range want {
		if got[k] != 3*n {
			t.Errorf("%s: %d records in 3 copies, want 3×%d", k, got[k], n)
		}
	}
	again := append([]byte(nil), three[0].Body...)
	three[0].Stamp(3)
	_, k1 := records(t, [][]byte{again})
	_, k2 := records(t, [][]byte{three[0].Body})
	for k := range k2 {
		if k1[k] {
			t.Fatalf("restamped batch repeats event %s", k)
		}
	}
}

// TestInterleave: batches that interleave three copies hold each copy's
// events once, in the capture's order, and give the same records as the
// copies sent one after another.
func TestInterleave(t *testing.T) {
	g, err := loadgen.FromAuditLog(capture)
	if err != nil {
		t.Fatal(err)
	}
	g.BatchEvents = g.EventsPerCopy()
	want, wantKeys := records(t, bodies(g.Batches(0, 3)))
	g.Interleave = 3
	if n := g.GroupBatches(); n != 3 {
		t.Fatalf("GroupBatches = %d, want 3", n)
	}
	mixed := g.Batches(0, 3)
	got, keys := records(t, bodies(mixed))
	if len(keys) != len(wantKeys) {
		t.Errorf("%d distinct event keys interleaved, %d one copy after another", len(keys), len(wantKeys))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d records interleaved, %d one copy after another", k, got[k], n)
		}
	}
	// the first pod events come from the three copies in turn
	var d decode.Decoder
	var namespaces []string
	for _, b := range mixed {
		if err := d.Decode(b.Body, func(ev *decode.Event) {
			if len(namespaces) < 6 && strings.HasPrefix(ev.Ref.Namespace, "demo-") {
				namespaces = append(namespaces, ev.Ref.Namespace)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(namespaces) < 6 || namespaces[0] == namespaces[1] || namespaces[1] == namespaces[2] || namespaces[0] != namespaces[3] {
		t.Errorf("first events' namespaces %v: want three copies in turn", namespaces)
	}
}

func bodies(bs []loadgen.Batch) [][]byte {
	var out [][]byte
	for _, b := range bs {
		out = append(out, b.Body)
	}
	return out
}

func BenchmarkBatches(b *testing.B) {
	g, err := loadgen.FromAuditLog(capture)
	if err != nil {
		b.Fatal(err)
	}
	bs := g.Batches(0, 1)
	b.SetBytes(int64(len(bs[0].Body)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bs[0].Stamp(uint32(i))
	}
}

// TestPaced: an open-loop run sends every batch once, on schedule (never
// before it is due), and a real podtrace acknowledges and journals each.
func TestPaced(t *testing.T) {
	g, err := loadgen.FromAuditLog(capture)
	if err != nil {
		t.Fatal(err)
	}
	g.BatchEvents = 100
	batches := g.Batches(0, 12)
	cfg := server.DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DB = filepath.Join(t.TempDir(), "podtrace.db")
	cfg.OTLPGRPCAddr, cfg.OTLPHTTPAddr = "", ""
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const rate = 4000 // events/s: a batch of 100 due every 25 ms
	res := loadgen.Run(context.Background(), loadgen.Config{URL: "http://" + srv.Addr() + "/audit", Rate: rate}, batches)
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if res.Requests != int64(len(batches)) || res.Accepted != res.Requests || len(res.Acked) != len(batches) {
		t.Fatalf("%d requests, %d accepted, %d acked batches; want %d of each", res.Requests, res.Accepted, len(res.Acked), len(batches))
	}
	if first := time.Duration(len(batches)-1) * 25 * time.Millisecond; res.Duration < first {
		t.Errorf("the last batch was due after %v, but the run took %v: sent early", first, res.Duration)
	}
	if len(res.Latencies) != len(batches) || !strings.HasPrefix(res.String(), "paced at 4000 events/s") {
		t.Errorf("result %s", res)
	}
	st, err := sqlite.Open(context.Background(), cfg.DB, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.EventsAfter(context.Background(), cfg.Cluster, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var d decode.Decoder
	for _, b := range batches {
		d.Decode(b.Body, func(ev *decode.Event) { keys[ev.Key()] = true })
	}
	if len(evs) != len(keys) {
		t.Errorf("journal holds %d events, the batches have %d podtrace keeps", len(evs), len(keys))
	}
}
