package lifecycle_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
)

var update = flag.Bool("update", false, "rewrite golden files")

var captures = []string{"kwok-only-v1.34.10", "mixed-kwok-hollowkubelet-v1.34.10", "realnode-v1.34.10"}

// readEvents decodes every relevant event of a capture file.
func readEvents(t testing.TB, path string) []*decode.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var d decode.Decoder
	var evs []*decode.Event
	for sc.Scan() {
		if err := d.Decode(sc.Bytes(), func(ev *decode.Event) { evs = append(evs, ev) }); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return evs
}

func apply(t testing.TB, m *lifecycle.Machine, evs []*decode.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := m.Apply(ev); err != nil {
			t.Fatalf("apply %s: %v", ev.AuditID, err)
		}
	}
}

// records derives every record of the machine's pods, sorted.
func records(m *lifecycle.Machine) []podtrace.Record {
	var out []podtrace.Record
	for _, p := range m.Dirty() {
		out = append(out, p.Records("test")...)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.UID != b.UID {
			return a.UID < b.UID
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Seq < b.Seq
	})
	return out
}

func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestGoldenRecords(t *testing.T) {
	for _, c := range captures {
		t.Run(c, func(t *testing.T) {
			m := lifecycle.New(lifecycle.DefaultConfig(), nil)
			apply(t, m, readEvents(t, filepath.Join("..", "testdata", c, "audit.log")))
			got := encode(t, records(m))
			golden := filepath.Join("testdata", c+".records.golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("records differ from %s (run with -update after checking the diff)", golden)
			}
		})
	}
}

// TestCaptureOutcomes pins the facts the captures' README states.
func TestCaptureOutcomes(t *testing.T) {
	m := lifecycle.New(lifecycle.DefaultConfig(), nil)
	apply(t, m, readEvents(t, "../testdata/kwok-only-v1.34.10/audit.log"))
	byName := map[string][]podtrace.Record{}
	for _, r := range records(m) {
		byName[r.Name] = append(byName[r.Name], r)
	}
	outcome := func(name string, kind podtrace.Kind) podtrace.Outcome {
		for _, r := range byName[name] {
			if r.Kind == kind {
				return r.Outcome
			}
		}
		return ""
	}
	for _, name := range []string{"too-big", "no-node"} {
		if got := outcome(name, podtrace.KindCreate); got != podtrace.OutcomePending {
			t.Errorf("%s: outcome %q, want pending", name, got)
		}
	}
	ready, evicted, deleted := 0, 0, 0
	for name, recs := range byName {
		if name == "too-big" || name == "no-node" {
			continue
		}
		if outcome(name, podtrace.KindCreate) == podtrace.OutcomeReady {
			ready++
		}
		switch outcome(name, podtrace.KindDelete) {
		case podtrace.OutcomeEvicted:
			evicted++
		case podtrace.OutcomeDeleted:
			deleted++
		}
		for _, r := range recs {
			if r.Kind == podtrace.KindCreate && r.Node != "kwok-node-0" {
				t.Errorf("%s: node %q", name, r.Node)
			}
		}
	}
	// 5 + 3 (scale up) + 1 (replacing the deleted) + 1 (replacing the evicted) web pods
	if ready != 10 {
		t.Errorf("%d web pods ready, want 10", ready)
	}
	// 5 scaled down, 1 deleted by hand
	if deleted != 6 || evicted != 1 {
		t.Errorf("deleted %d evicted %d, want 6 and 1", deleted, evicted)
	}
}

// TestPermutation: any order, any duplicates, same records.
func TestPermutation(t *testing.T) {
	for _, c := range captures {
		t.Run(c, func(t *testing.T) {
			evs := readEvents(t, filepath.Join("..", "testdata", c, "audit.log"))
			m := lifecycle.New(lifecycle.DefaultConfig(), nil)
			apply(t, m, evs)
			want := encode(t, records(m))
			rng := rand.New(rand.NewPCG(1, 2))
			for round := range 20 {
				shuffled := append([]*decode.Event(nil), evs...)
				rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				if round%2 == 1 { // and every event twice
					shuffled = append(shuffled, shuffled[:len(shuffled)/2]...)
					shuffled = append(shuffled[len(shuffled)/3:], shuffled...)
				}
				m := lifecycle.New(lifecycle.DefaultConfig(), nil)
				apply(t, m, shuffled)
				if got := encode(t, records(m)); !bytes.Equal(got, want) {
					t.Fatalf("round %d: shuffled events give other records", round)
				}
			}
		})
	}
}

// memLoader keeps evicted pods as the store would: encoded.
type memLoader struct{ pods map[string][]byte }

func (l *memLoader) LoadPod(uid string) (*lifecycle.Pod, error) {
	b, ok := l.pods[uid]
	if !ok {
		return nil, nil
	}
	var p lifecycle.Pod
	return &p, json.Unmarshal(b, &p)
}

func (l *memLoader) EventUID(string) (string, error) { return "", nil }

func (l *memLoader) PodsNamed(ns, name string) ([]lifecycle.Incarnation, error) {
	var out []lifecycle.Incarnation
	for _, b := range l.pods {
		var p lifecycle.Pod
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, err
		}
		if p.Namespace == ns && p.Name == name {
			out = append(out, lifecycle.Incarnation{UID: p.UID, Created: p.CreatedNano()})
		}
	}
	return out, nil
}

// TestEvictRestore: pods that leave memory after every event and come back
// from their encoded state give the same records.
func TestEvictRestore(t *testing.T) {
	evs := readEvents(t, "../testdata/mixed-kwok-hollowkubelet-v1.34.10/audit.log")
	m := lifecycle.New(lifecycle.DefaultConfig(), nil)
	apply(t, m, evs)
	want := encode(t, records(m))

	l := &memLoader{pods: map[string][]byte{}}
	cfg := lifecycle.DefaultConfig()
	cfg.IdleAfter = 1 // every pod is idle at once
	m2 := lifecycle.New(cfg, l)
	all := map[string]*lifecycle.Pod{}
	for _, ev := range evs {
		apply(t, m2, []*decode.Event{ev})
		for _, p := range m2.Dirty() {
			l.pods[p.UID] = encode(t, p)
			all[p.UID] = p
		}
		m2.Evict()
	}
	if m2.Stats.Restored == 0 {
		t.Fatal("no pod was restored: the test proves nothing")
	}
	var got []podtrace.Record
	for _, b := range l.pods {
		var p lifecycle.Pod
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Records("test")...)
	}
	sort.Slice(got, func(i, j int) bool {
		a, b := got[i], got[j]
		if a.UID != b.UID {
			return a.UID < b.UID
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Seq < b.Seq
	})
	if g := encode(t, got); !bytes.Equal(g, want) {
		t.Errorf("records after evict/restore differ")
	}
}

// TestReapplySkipped: after a crash between the parts of a save, the
// journal's tail is applied again over pods already saved past it. ApplySeq
// must skip what a pod holds: the pod states (not only the records) must
// equal those of a single pass, and every repeat must be counted.
func TestReapplySkipped(t *testing.T) {
	for _, c := range captures {
		t.Run(c, func(t *testing.T) {
			evs := readEvents(t, filepath.Join("..", "testdata", c, "audit.log"))
			once := lifecycle.New(lifecycle.DefaultConfig(), nil)
			twice := lifecycle.New(lifecycle.DefaultConfig(), nil)
			for i, ev := range evs {
				once.ApplySeq(ev, int64(i+1))
				twice.ApplySeq(ev, int64(i+1))
			}
			from := len(evs) / 3
			for i := from; i < len(evs); i++ {
				twice.ApplySeq(evs[i], int64(i+1))
			}
			if got, want := twice.Stats.Reapplied, once.Stats.Applied-countApplied(t, evs[:from]); got != want {
				t.Errorf("%d events counted as re-applied, want %d", got, want)
			}
			state := func(m *lifecycle.Machine) []byte {
				pods := m.Dirty()
				sort.Slice(pods, func(i, j int) bool { return pods[i].UID < pods[j].UID })
				return encode(t, pods)
			}
			if !bytes.Equal(state(once), state(twice)) {
				t.Error("pod states differ after the tail was applied again")
			}
		})
	}
}

// countApplied is how many of evs a fresh machine applies to a pod.
func countApplied(t *testing.T, evs []*decode.Event) int64 {
	t.Helper()
	m := lifecycle.New(lifecycle.DefaultConfig(), nil)
	for _, ev := range evs {
		m.Apply(ev)
	}
	return m.Stats.Applied
}

// TestHeldExpire: an event held for a pod that never appears (one created
// before podtrace started) is dropped and counted once the event clock is
// IdleAfter past it, so such events cannot fill the bound for the ones
// whose pod is merely late; until then OldestHeld names its journal seq.
func TestHeldExpire(t *testing.T) {
	evs := readEvents(t, "../testdata/kwok-only-v1.34.10/audit.log")
	var orphan *decode.Event
	for _, ev := range evs {
		if uid, _, _ := lifecycle.Identify(ev); uid == "" && ev.Ref.Subresource == "eviction" {
			cp := *ev
			cp.Ref.Name, cp.Time = "never-seen", evs[0].Time
			orphan = &cp
		}
	}
	if orphan == nil {
		t.Fatal("no eviction in the capture")
	}
	if span := evs[len(evs)-1].Time.Sub(evs[0].Time); span < 45*time.Second {
		t.Fatalf("the capture spans %v: too short to expire anything", span)
	}
	cfg := lifecycle.DefaultConfig()
	cfg.IdleAfter = 30 * time.Second
	m := lifecycle.New(cfg, nil)
	if err := m.ApplySeq(orphan, 5); err != nil {
		t.Fatal(err)
	}
	if m.Stats.Waiting != 1 || m.OldestHeld() != 5 {
		t.Fatalf("orphan not held: waiting %d, oldest held %d", m.Stats.Waiting, m.OldestHeld())
	}
	// the clock moves, but not yet IdleAfter past the orphan
	i := 0
	for ; i < len(evs) && evs[i].Time.Before(orphan.Time.Add(20*time.Second)); i++ {
		m.ApplySeq(evs[i], int64(10+i))
	}
	m.Evict()
	if !m.Now().After(orphan.Time) || m.Stats.Waiting != 1 || m.Stats.ExpiredWaiting != 0 {
		t.Fatalf("clock %v (orphan at %v): waiting %d, expired %d; want it still held", m.Now(), orphan.Time, m.Stats.Waiting, m.Stats.ExpiredWaiting)
	}
	for ; i < len(evs); i++ {
		m.ApplySeq(evs[i], int64(10+i))
	}
	m.Evict()
	if m.Stats.Waiting != 0 || m.Stats.ExpiredWaiting != 1 || m.OldestHeld() != 0 {
		t.Fatalf("after the clock moved on: waiting %d, expired %d, oldest held %d", m.Stats.Waiting, m.Stats.ExpiredWaiting, m.OldestHeld())
	}
}

// TestRehold: after a restart the journal's name-only events are held
// again only if no pod of their name is known (one known got them when it
// got its name); events that name their pod by uid are never held again.
func TestRehold(t *testing.T) {
	evs := readEvents(t, "../testdata/kwok-only-v1.34.10/audit.log")
	var eviction *decode.Event
	for _, ev := range evs {
		if uid, _, _ := lifecycle.Identify(ev); uid == "" && ev.Ref.Subresource == "eviction" {
			eviction = ev
		}
	}
	if eviction == nil {
		t.Fatal("no eviction in the capture")
	}
	orphan := *eviction
	orphan.Ref.Name = "never-seen"
	m := lifecycle.New(lifecycle.DefaultConfig(), nil)
	apply(t, m, evs) // the eviction's pod is known
	for _, c := range []struct {
		ev   *decode.Event
		held bool
	}{{eviction, false}, {&orphan, true}, {evs[0], false}} {
		held, err := m.Rehold(c.ev, 42)
		if err != nil || held != c.held {
			t.Errorf("Rehold %s %s/%s: held %v, %v; want %v", c.ev.Verb, c.ev.Ref.Namespace, c.ev.Ref.Name, held, err, c.held)
		}
	}
	if m.Stats.Waiting != 1 || m.OldestHeld() != 42 {
		t.Errorf("waiting %d, oldest held %d; want the orphan at 42", m.Stats.Waiting, m.OldestHeld())
	}
}
