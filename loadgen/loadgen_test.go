package loadgen_test

import (
	"encoding/json"
	"testing"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/loadgen"
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
