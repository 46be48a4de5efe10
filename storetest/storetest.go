// Package storetest is the one test suite every podtrace.Store passes: the
// sqlite package runs it always, the postgres package against a real
// server when PODTRACE_TEST_POSTGRES names one (scripts/with-postgres.sh
// starts a throwaway one). A store behaves the same whichever it is.
package storetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/lifecycle"
)

// Open returns a new, empty store for one test; the test closes it.
type Open func(t *testing.T) podtrace.Store

// Run runs the suite against stores made by open.
func Run(t *testing.T, open Open) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, podtrace.Store)
	}{
		{"Journal", testJournal},
		{"JournalConcurrent", testJournalConcurrent},
		{"HostileText", testHostileText},
		{"Progress", testProgress},
		{"Pods", testPods},
		{"MonotoneSaves", testMonotoneSaves},
		{"Records", testRecords},
		{"RecordPages", testRecordPages},
		{"Briefs", testBriefs},
		{"SpanTraces", testSpanTraces},
		{"PodEvents", testPodEvents},
		{"EventUID", testEventUID},
		{"DeleteBefore", testDeleteBefore},
		{"Pipeline", testPipeline},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := open(t)
			defer st.Close()
			c.fn(t, st)
		})
	}
}

var ctx = context.Background()

var t0 = time.Date(2026, 11, 21, 20, 48, 39, 109489000, time.UTC)

func ev(cluster, key, uid, ns, name string, at time.Time) podtrace.JournalEvent {
	return podtrace.JournalEvent{Cluster: cluster, Key: key, UID: uid, Namespace: ns, Name: name, Time: at,
		Body: fmt.Appendf(nil, `{"auditID":%q,"stage":"ResponseComplete"}`, key)}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func testJournal(t *testing.T, st podtrace.Store) {
	evs := []podtrace.JournalEvent{
		ev("a", "k1/ResponseComplete", "u1", "ns", "p1", t0),
		ev("a", "k2/ResponseComplete", "", "ns", "p1", t0.Add(time.Nanosecond)),
		ev("a", "k1/ResponseComplete", "u1", "ns", "p1", t0), // twice in one call
		ev("b", "k1/ResponseComplete", "u9", "ns", "p1", t0), // same key, other cluster
	}
	evs[1].Body = []byte{0, 1, 2, 0xff, '"', '\\'} // bodies are bytes, kept exactly
	added := must[[]bool](t)(st.AppendEvents(ctx, evs))
	if want := []bool{true, true, false, true}; fmt.Sprint(added) != fmt.Sprint(want) {
		t.Fatalf("added %v, want %v", added, want)
	}
	if !(evs[0].Seq > 0 && evs[1].Seq > evs[0].Seq && evs[3].Seq > evs[1].Seq) {
		t.Fatalf("seqs %d %d %d do not grow in order", evs[0].Seq, evs[1].Seq, evs[3].Seq)
	}
	again := must[[]bool](t)(st.AppendEvents(ctx, evs[:2]))
	if again[0] || again[1] {
		t.Fatalf("re-appended events were added again: %v", again)
	}
	if added := must[[]bool](t)(st.AppendEvents(ctx, nil)); len(added) != 0 {
		t.Fatalf("empty append: %v", added)
	}
	got := must[[]podtrace.JournalEvent](t)(st.EventsAfter(ctx, "a", 0, 100))
	if len(got) != 2 {
		t.Fatalf("cluster a holds %d events, want 2", len(got))
	}
	for i, g := range got {
		w := evs[i]
		if g.Seq != w.Seq || g.Cluster != w.Cluster || g.Key != w.Key || g.UID != w.UID || g.Namespace != w.Namespace || g.Name != w.Name ||
			!g.Time.Equal(w.Time) || !bytes.Equal(g.Body, w.Body) {
			t.Errorf("event %d: got %+v %q, want %+v %q", i, g, g.Body, w, w.Body)
		}
	}
	if got := must[[]podtrace.JournalEvent](t)(st.EventsAfter(ctx, "a", evs[0].Seq, 100)); len(got) != 1 || got[0].Key != "k2/ResponseComplete" {
		t.Fatalf("after seq %d: %+v", evs[0].Seq, got)
	}
	if got := must[[]podtrace.JournalEvent](t)(st.EventsAfter(ctx, "a", 0, 1)); len(got) != 1 {
		t.Fatalf("limit 1 gave %d events", len(got))
	}
	if got := must[[]podtrace.JournalEvent](t)(st.EventsAfter(ctx, "nope", 0, 100)); len(got) != 0 {
		t.Fatalf("unknown cluster has events: %+v", got)
	}
}

// testJournalConcurrent appends overlapping batches from several
// goroutines, as replicas do: every key is journaled once, and reading the
// journal by seq sees every event.
func testJournalConcurrent(t *testing.T, st podtrace.Store) {
	const writers, batches, size = 4, 20, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				evs := make([]podtrace.JournalEvent, size)
				for i := range evs {
					// writers overlap: writer w sends keys of its batch and of the next writer's
					k := (b*size + i + w*size/2) % (batches * size)
					evs[i] = ev("c", fmt.Sprintf("k%05d/ResponseComplete", k), "u", "ns", "p", t0.Add(time.Duration(k)))
				}
				if _, err := st.AppendEvents(ctx, evs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var after int64
	for {
		page := must[[]podtrace.JournalEvent](t)(st.EventsAfter(ctx, "c", after, 137))
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if e.Seq <= after {
				t.Fatalf("seq %d after %d", e.Seq, after)
			}
			after = e.Seq
			seen[e.Key]++
		}
	}
	if len(seen) != batches*size {
		t.Fatalf("%d distinct keys journaled, want %d", len(seen), batches*size)
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("key %s journaled %d times", k, n)
		}
	}
}

// testHostileText: names and ids with NUL bytes and invalid UTF-8 (which
// hostile or broken audit events may carry) are stored, not refused —
// a refused batch would be retried by the apiserver forever.
func testHostileText(t *testing.T, st podtrace.Store) {
	bad := "a\x00b\xff\xfe"
	e := ev("h", "id-"+bad+"/ResponseComplete", "u-"+bad, "ns-"+bad, "p-"+bad, t0)
	e.Body = []byte("{\"x\":\"\x00\xff\"}")
	added := must[[]bool](t)(st.AppendEvents(ctx, []podtrace.JournalEvent{e}))
	if !added[0] {
		t.Fatal("hostile event not added")
	}
	got := must[[]podtrace.JournalEvent](t)(st.EventsAfter(ctx, "h", 0, 10))
	if len(got) != 1 || !bytes.Equal(got[0].Body, e.Body) {
		t.Fatalf("got %+v, want the body kept byte for byte", got)
	}
	r := record("h", "u-"+bad, podtrace.KindCreate, 0, t0)
	r.Name = "p-" + bad
	r.Diagnosis = []podtrace.Finding{{Code: "Code" + bad, Owner: podtrace.OwnerUser, Message: bad}}
	pod := podtrace.PodState{Cluster: "h", UID: "u-" + bad, Namespace: "ns", Name: "p-" + bad, Created: 1, LastSeen: 2, State: []byte{0, 0xff}}
	if err := st.Save(ctx, podtrace.Commit{Cluster: "h", Pods: []podtrace.PodState{pod}, Records: []podtrace.Record{r}, Applied: got[0].Seq}); err != nil {
		t.Fatal(err)
	}
	recs, _ := must2(t)(st.Records(ctx, podtrace.RecordFilter{Cluster: "h"}))
	var want string // what JSON makes of it: U+FFFD for each invalid byte
	b, _ := json.Marshal(bad)
	json.Unmarshal(b, &want)
	if len(recs) != 1 || recs[0].Diagnosis[0].Message != want {
		t.Fatalf("record with hostile text: %+v", recs)
	}
}

func must2(t *testing.T) func([]podtrace.Record, string, error) ([]podtrace.Record, string) {
	return func(r []podtrace.Record, next string, err error) ([]podtrace.Record, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r, next
	}
}

func testProgress(t *testing.T, st podtrace.Store) {
	if n := must[int64](t)(st.Applied(ctx, "a")); n != 0 {
		t.Fatalf("applied of a new store: %d", n)
	}
	if n := must[int64](t)(st.Offset(ctx, "file")); n != 0 {
		t.Fatalf("offset of a new store: %d", n)
	}
	save := func(applied int64, off map[string]int64) {
		t.Helper()
		if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Applied: applied, Offsets: off}); err != nil {
			t.Fatal(err)
		}
	}
	save(10, map[string]int64{"file": 500, "file#inode": 7})
	save(5, map[string]int64{"file": 20}) // a replica behind; a rotated file
	if n := must[int64](t)(st.Applied(ctx, "a")); n != 10 {
		t.Errorf("applied went back to %d, want 10", n)
	}
	if n := must[int64](t)(st.Offset(ctx, "file")); n != 20 {
		t.Errorf("offset %d, want 20 (offsets follow the source, even backwards)", n)
	}
	if n := must[int64](t)(st.Offset(ctx, "file#inode")); n != 7 {
		t.Errorf("offset %d, want 7", n)
	}
	if n := must[int64](t)(st.Applied(ctx, "b")); n != 0 {
		t.Errorf("applied of another cluster: %d", n)
	}
	// a part of a save split in parts saves pods, never the positions
	part := podtrace.Commit{Cluster: "a", Applied: 20, Offsets: map[string]int64{"file": 900}, Partial: true,
		Pods: []podtrace.PodState{pod("a", "u-part", "ns", "p", 1, `{"uid":"u-part"}`)}}
	if err := st.Save(ctx, part); err != nil {
		t.Fatal(err)
	}
	if n := must[int64](t)(st.Applied(ctx, "a")); n != 10 {
		t.Errorf("a partial save moved applied to %d, want 10", n)
	}
	if n := must[int64](t)(st.Offset(ctx, "file")); n != 20 {
		t.Errorf("a partial save moved the offset to %d, want 20", n)
	}
	if _, err := st.LoadPod(ctx, "a", "u-part"); err != nil {
		t.Errorf("the pod of a partial save: %v", err)
	}

	// Commit.Held: kept from the commit furthest on, saved as offset
	// held/<cluster>
	for _, c := range []struct {
		applied, held, want int64
		why                 string
	}{
		{30, 25, 25, "saved"},
		{20, 0, 25, "a replica behind holding nothing must not hide it"},
		{30, 28, 28, "the same position saves again"},
		{40, 0, 0, "further on: nothing held"},
	} {
		if err := st.Save(ctx, podtrace.Commit{Cluster: "h", Applied: c.applied, Held: c.held}); err != nil {
			t.Fatal(err)
		}
		if n := must[int64](t)(st.Offset(ctx, "held/h")); n != c.want {
			t.Errorf("held after a save at %d holding %d: %d, want %d (%s)", c.applied, c.held, n, c.want, c.why)
		}
	}
	if err := st.Save(ctx, podtrace.Commit{Cluster: "h", Applied: 50, Held: 45, Partial: true}); err != nil {
		t.Fatal(err)
	}
	if n := must[int64](t)(st.Offset(ctx, "held/h")); n != 0 {
		t.Errorf("a partial save moved held to %d", n)
	}
}

func pod(cluster, uid, ns, name string, created int64, state string) podtrace.PodState {
	return podtrace.PodState{Cluster: cluster, UID: uid, Namespace: ns, Name: name, Created: created, LastSeen: created + 5, State: []byte(state)}
}

func testPods(t *testing.T, st podtrace.Store) {
	if _, err := st.LoadPod(ctx, "a", "u1"); !errors.Is(err, podtrace.ErrNotFound) {
		t.Fatalf("load of an unknown pod: %v, want ErrNotFound", err)
	}
	pods := []podtrace.PodState{pod("a", "u2", "ns", "web", 200, "s2"), pod("a", "u1", "ns", "web", 100, "s1"), pod("b", "u3", "ns", "web", 50, "s3")}
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Pods: pods, Applied: 1}); err != nil {
		t.Fatal(err)
	}
	got := must[podtrace.PodState](t)(st.LoadPod(ctx, "a", "u1"))
	if got.Namespace != "ns" || got.Name != "web" || got.Created != 100 || got.LastSeen != 105 || string(got.State) != "s1" {
		t.Fatalf("loaded %+v", got)
	}
	named := must[[]podtrace.PodState](t)(st.PodsNamed(ctx, "a", "ns", "web"))
	if len(named) != 2 || named[0].UID != "u1" || named[1].UID != "u2" || named[0].Created != 100 {
		t.Fatalf("pods named ns/web in a: %+v, want u1 then u2", named)
	}
	if named := must[[]podtrace.PodState](t)(st.PodsNamed(ctx, "a", "ns", "other")); len(named) != 0 {
		t.Fatalf("pods named ns/other: %+v", named)
	}
	// a later save replaces
	p := pod("a", "u1", "ns", "web", 100, "s1-later")
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Pods: []podtrace.PodState{p}, Applied: 2}); err != nil {
		t.Fatal(err)
	}
	if got := must[podtrace.PodState](t)(st.LoadPod(ctx, "a", "u1")); string(got.State) != "s1-later" {
		t.Fatalf("state %q after a later save", got.State)
	}
}

// testMonotoneSaves: a save from an earlier journal position (a replica
// that is behind) does not replace what a later one saved.
func testMonotoneSaves(t *testing.T, st podtrace.Store) {
	r := record("a", "u1", podtrace.KindCreate, 0, t0)
	r.Outcome = podtrace.OutcomeReady
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Pods: []podtrace.PodState{pod("a", "u1", "ns", "p", 1, "new")}, Records: []podtrace.Record{r}, Applied: 20}); err != nil {
		t.Fatal(err)
	}
	old := record("a", "u1", podtrace.KindCreate, 0, t0)
	old.Outcome = podtrace.OutcomePending
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Pods: []podtrace.PodState{pod("a", "u1", "ns", "p", 1, "old")}, Records: []podtrace.Record{old}, Applied: 10}); err != nil {
		t.Fatal(err)
	}
	if got := must[podtrace.PodState](t)(st.LoadPod(ctx, "a", "u1")); string(got.State) != "new" {
		t.Errorf("state %q: an earlier position replaced a later one", got.State)
	}
	recs, _ := must2(t)(st.Records(ctx, podtrace.RecordFilter{Cluster: "a"}))
	if len(recs) != 1 || recs[0].Outcome != podtrace.OutcomeReady {
		t.Errorf("records %+v: an earlier position replaced a later one", recs)
	}
	// the same position saves again (a retried save, a replica in step)
	same := pod("a", "u1", "ns", "p", 1, "same")
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Pods: []podtrace.PodState{same, same}, Applied: 20}); err != nil {
		t.Fatal(err)
	}
	if got := must[podtrace.PodState](t)(st.LoadPod(ctx, "a", "u1")); string(got.State) != "same" {
		t.Errorf("state %q after a save at the same position", got.State)
	}
}

func record(cluster, uid string, kind podtrace.Kind, seq int, created time.Time) podtrace.Record {
	return podtrace.Record{Cluster: cluster, Namespace: "ns", Name: "p-" + uid, UID: uid, Kind: kind, Seq: seq, Outcome: podtrace.OutcomePending,
		Created: created, Phases: []podtrace.Phase{}, Milestones: []podtrace.Milestone{{Name: "requested", Time: created, AuditID: "a-" + uid}}, Diagnosis: []podtrace.Finding{}}
}

func testRecords(t *testing.T, st podtrace.Store) {
	fin := t0.Add(3 * time.Second)
	r1 := record("a", "u1", podtrace.KindCreate, 0, t0)
	r1.Outcome, r1.Finished, r1.Node = podtrace.OutcomeReady, &fin, "n1"
	r2 := record("a", "u1", podtrace.KindDelete, 0, t0.Add(time.Minute))
	r2.Outcome = podtrace.OutcomeDeleted
	r2.Finished = &fin
	r3 := record("a", "u2", podtrace.KindCreate, 0, t0.Add(time.Second))
	r3.Namespace = "other"
	r3.Diagnosis = []podtrace.Finding{{Code: "FailedScheduling", Phase: "scheduling", Owner: podtrace.OwnerUser, Message: "0/1 nodes", Evidence: []podtrace.Evidence{}}}
	r4 := record("b", "u3", podtrace.KindUpgrade, 2, t0.Add(2*time.Second))
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Records: []podtrace.Record{r1, r2, r3}, Applied: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, podtrace.Commit{Cluster: "b", Records: []podtrace.Record{r4}, Applied: 1}); err != nil {
		t.Fatal(err)
	}
	all, next := must2(t)(st.Records(ctx, podtrace.RecordFilter{}))
	if next != "" {
		t.Errorf("one page, but cursor %q", next)
	}
	keys := func(rs []podtrace.Record) string {
		var s []string
		for _, r := range rs {
			s = append(s, fmt.Sprintf("%s/%s/%s/%d", r.Cluster, r.UID, r.Kind, r.Seq))
		}
		return fmt.Sprint(s)
	}
	if got, want := keys(all), "[a/u1/delete/0 b/u3/upgrade/2 a/u2/create/0 a/u1/create/0]"; got != want {
		t.Fatalf("newest first: got %s, want %s", got, want)
	}
	// a record comes back as it was saved
	b1, _ := json.Marshal(r1)
	b2, _ := json.Marshal(all[3])
	if !bytes.Equal(b1, b2) {
		t.Errorf("record changed on the way:\n got %s\nwant %s", b2, b1)
	}
	for _, c := range []struct {
		f    podtrace.RecordFilter
		want string
	}{
		{podtrace.RecordFilter{Cluster: "b"}, "[b/u3/upgrade/2]"},
		{podtrace.RecordFilter{Cluster: "a", Namespace: "other"}, "[a/u2/create/0]"},
		{podtrace.RecordFilter{Name: "p-u3"}, "[b/u3/upgrade/2]"},
		{podtrace.RecordFilter{UID: "u1"}, "[a/u1/delete/0 a/u1/create/0]"},
		{podtrace.RecordFilter{Kind: podtrace.KindCreate}, "[a/u2/create/0 a/u1/create/0]"},
		{podtrace.RecordFilter{Outcome: podtrace.OutcomeReady}, "[a/u1/create/0]"},
		{podtrace.RecordFilter{Node: "n1"}, "[a/u1/create/0]"},
		{podtrace.RecordFilter{Code: "FailedScheduling"}, "[a/u2/create/0]"},
		{podtrace.RecordFilter{Code: "Failed"}, "[]"},
		{podtrace.RecordFilter{Code: "Failed%"}, "[]"},          // no wildcard: matched exactly
		{podtrace.RecordFilter{Code: "FailedSchedulin_"}, "[]"}, // nor this one
		{podtrace.RecordFilter{Owner: podtrace.OwnerUser}, "[a/u2/create/0]"},
		{podtrace.RecordFilter{Owner: podtrace.OwnerPlatform}, "[]"},
		{podtrace.RecordFilter{Since: t0.Add(time.Second)}, "[a/u1/delete/0 b/u3/upgrade/2 a/u2/create/0]"},
		{podtrace.RecordFilter{Until: t0.Add(time.Second)}, "[a/u1/create/0]"},
		// bounds beyond unix nanoseconds (1678 to 2262) select as far as they can
		{podtrace.RecordFilter{Until: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}, "[a/u1/delete/0 b/u3/upgrade/2 a/u2/create/0 a/u1/create/0]"},
		{podtrace.RecordFilter{Since: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Until: t0.Add(time.Second)}, "[a/u1/create/0]"},
		{podtrace.RecordFilter{Since: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, "[]"},
		{podtrace.RecordFilter{Until: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}, "[]"},
		{podtrace.RecordFilter{TraceID: r4.TraceHex()}, "[b/u3/upgrade/2]"},
		{podtrace.RecordFilter{Cluster: "nope"}, "[]"},
	} {
		got, _ := must2(t)(st.Records(ctx, c.f))
		if keys(got) != c.want {
			t.Errorf("filter %+v: got %s, want %s", c.f, keys(got), c.want)
		}
	}
	if _, _, err := st.Records(ctx, podtrace.RecordFilter{Cursor: "not-a-cursor!"}); !errors.Is(err, podtrace.ErrBadCursor) {
		t.Errorf("bad cursor: %v, want ErrBadCursor", err)
	}
}

// testRecordPages pages through records with equal creation times: every
// record once, in one stable order.
func testRecordPages(t *testing.T, st podtrace.Store) {
	var recs []podtrace.Record
	for i := range 23 {
		recs = append(recs, record("a", fmt.Sprintf("u%02d", i%7), podtrace.KindUpgrade, i, t0.Add(time.Duration(i/5)*time.Second)))
	}
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Records: recs, Applied: 1}); err != nil {
		t.Fatal(err)
	}
	all, _ := must2(t)(st.Records(ctx, podtrace.RecordFilter{Limit: 100}))
	var paged []podtrace.Record
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, next := must2(t)(st.Records(ctx, podtrace.RecordFilter{Limit: 4, Cursor: cursor}))
		paged = append(paged, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 23 || len(paged) != 23 {
		t.Fatalf("%d records in one page, %d paged; want 23", len(all), len(paged))
	}
	for i := range all {
		if all[i].Key() != paged[i].Key() {
			t.Fatalf("record %d: paged %v, unpaged %v", i, paged[i].Key(), all[i].Key())
		}
	}
	if !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) }) {
		t.Fatal("records are not newest first")
	}
}

func testEventUID(t *testing.T, st podtrace.Store) {
	evs := []podtrace.JournalEvent{
		ev("a", "id-1/ResponseComplete", "uid-1", "ns", "p", t0),
		ev("a", "id-2/ResponseComplete", "", "ns", "q", t0), // named by name only
	}
	if _, err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if uid, err := st.EventUID(ctx, "a", "id-1/ResponseComplete"); err != nil || uid != "uid-1" {
		t.Errorf("EventUID = %q, %v; want uid-1", uid, err)
	}
	for _, c := range []struct{ cluster, key string }{{"a", "id-2/ResponseComplete"}, {"a", "id-3/ResponseComplete"}, {"b", "id-1/ResponseComplete"}} {
		if uid, err := st.EventUID(ctx, c.cluster, c.key); !errors.Is(err, podtrace.ErrNotFound) {
			t.Errorf("EventUID(%s, %s) = %q, %v; want ErrNotFound", c.cluster, c.key, uid, err)
		}
	}
}

func testPodEvents(t *testing.T, st podtrace.Store) {
	if _, err := st.PodEvents(ctx, "a", "u1", podtrace.EventPage{}); !errors.Is(err, podtrace.ErrNotFound) {
		t.Fatalf("events of an unknown pod: %v, want ErrNotFound", err)
	}
	evs := []podtrace.JournalEvent{
		ev("a", "e1/x", "u0", "ns", "web", t0.Add(-time.Hour)),         // an earlier pod of the same name
		ev("a", "e2/x", "", "ns", "web", t0.Add(-time.Minute)),         // named only, before u1 existed
		ev("a", "e3/x", "u1", "ns", "web", t0.Add(2*time.Second)),      // by uid
		ev("a", "e4/x", "", "ns", "web", t0.Add(time.Second)),          // named only, in u1's life
		ev("a", "e5/x", "u2", "ns", "other", t0.Add(time.Second)),      // another pod
		ev("b", "e6/x", "u1", "ns", "web", t0.Add(time.Second)),        // another cluster
		ev("a", "e7/x", "u1", "ns", "web", t0.Add(2*time.Second)),      // same time as e3: seq order
		ev("a", "e8/x", "", "ns", "web", t0.Add(500*time.Millisecond)), // named only, in u1's life
	}
	must[[]bool](t)(st.AppendEvents(ctx, evs))
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Pods: []podtrace.PodState{pod("a", "u1", "ns", "web", t0.UnixNano(), "")}, Applied: 1}); err != nil {
		t.Fatal(err)
	}
	got := must[[]podtrace.JournalEvent](t)(st.PodEvents(ctx, "a", "u1", podtrace.EventPage{}))
	var keys []string
	for _, e := range got {
		keys = append(keys, e.Key)
	}
	if fmt.Sprint(keys) != "[e8/x e4/x e3/x e7/x]" {
		t.Fatalf("events of u1: %v, want [e8/x e4/x e3/x e7/x]", keys)
	}
	// page by page, two at a time (e3 and e7 share a time: seq decides)
	var paged []string
	for page := (podtrace.EventPage{Limit: 2}); ; {
		evs := must[[]podtrace.JournalEvent](t)(st.PodEvents(ctx, "a", "u1", page))
		for _, e := range evs {
			paged = append(paged, e.Key)
		}
		if len(evs) < page.Limit || len(paged) > len(keys) {
			break
		}
		last := evs[len(evs)-1]
		page.After, page.AfterSeq = last.Time.UnixNano(), last.Seq
	}
	if fmt.Sprint(paged) != fmt.Sprint(keys) {
		t.Fatalf("events of u1 two at a time: %v, want %v", paged, keys)
	}
}

func testDeleteBefore(t *testing.T, st podtrace.Store) {
	cut := t0.Add(time.Hour)
	old, young := t0, t0.Add(2*time.Hour)
	var evs []podtrace.JournalEvent
	for i := range 10 {
		evs = append(evs, ev("a", fmt.Sprintf("old%d/x", i), "u", "ns", "p", old.Add(time.Duration(i))))
	}
	evs = append(evs, ev("a", "young/x", "u", "ns", "p", young), ev("b", "other/x", "u", "ns", "p", old))
	evs = append(evs, ev("a", "old-unapplied/x", "u", "ns", "p", old))
	must[[]bool](t)(st.AppendEvents(ctx, evs))
	applied := evs[len(evs)-2].Seq // up to the other cluster's event: all but the last are applied

	fin := old.Add(time.Second)
	oldDone := record("a", "u-old", podtrace.KindCreate, 0, old)
	oldDone.Finished = &fin
	oldOpen := record("a", "u-open", podtrace.KindCreate, 0, old) // open, created before the cut
	lateFin := young
	oldLong := record("a", "u-long", podtrace.KindCreate, 0, old) // created before, finished after the cut
	oldLong.Finished = &lateFin
	youngRec := record("a", "u-young", podtrace.KindCreate, 0, young)
	otherRec := record("b", "u-old", podtrace.KindCreate, 0, old)
	pods := []podtrace.PodState{pod("a", "u-old", "ns", "p", old.UnixNano(), ""), pod("a", "u-young", "ns", "p", young.UnixNano(), "")}
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Pods: pods, Records: []podtrace.Record{oldDone, oldOpen, oldLong, youngRec}, Applied: applied}); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, podtrace.Commit{Cluster: "b", Records: []podtrace.Record{otherRec}, Pods: []podtrace.PodState{pod("b", "u-old", "ns", "p", old.UnixNano(), "")}, Applied: applied}); err != nil {
		t.Fatal(err)
	}
	// bounded batches: 3 rows of each kind at most per call
	var calls, total int
	for {
		n := must[int](t)(st.DeleteBefore(ctx, "a", cut, 3))
		total += n
		calls++
		if n > 9 {
			t.Fatalf("one call deleted %d rows, over 3 of each kind", n)
		}
		if n < 3 {
			break
		}
		if calls > 20 {
			t.Fatal("retention does not end")
		}
	}
	// deleted: 10 old applied events, 2 old records, 1 old pod
	if total != 13 {
		t.Errorf("deleted %d rows, want 13", total)
	}
	recs, _ := must2(t)(st.Records(ctx, podtrace.RecordFilter{Cluster: "a"}))
	var left []string
	for _, r := range recs {
		left = append(left, r.UID)
	}
	if fmt.Sprint(left) != "[u-young u-long]" {
		t.Errorf("records left: %v, want [u-young u-long]", left)
	}
	if _, err := st.LoadPod(ctx, "a", "u-old"); !errors.Is(err, podtrace.ErrNotFound) {
		t.Errorf("old pod state kept: %v", err)
	}
	must[podtrace.PodState](t)(st.LoadPod(ctx, "a", "u-young"))
	must[podtrace.PodState](t)(st.LoadPod(ctx, "b", "u-old"))
	rest := must[[]podtrace.JournalEvent](t)(st.EventsAfter(ctx, "a", 0, 100))
	var keys []string
	for _, e := range rest {
		keys = append(keys, e.Key)
	}
	if fmt.Sprint(keys) != "[young/x old-unapplied/x]" {
		t.Errorf("journal left: %v, want [young/x old-unapplied/x] (never an unapplied event)", keys)
	}
	if got := must[[]podtrace.JournalEvent](t)(st.EventsAfter(ctx, "b", 0, 100)); len(got) != 1 {
		t.Errorf("another cluster's journal touched: %d events left", len(got))
	}
	// seqs only grow after deletions
	e := ev("a", "new/x", "u", "ns", "p", young)
	must[[]bool](t)(st.AppendEvents(ctx, []podtrace.JournalEvent{e}))
	if e2 := must[[]podtrace.JournalEvent](t)(st.EventsAfter(ctx, "a", applied, 100)); len(e2) == 0 || e2[len(e2)-1].Key != "new/x" || e2[len(e2)-1].Seq <= evs[len(evs)-1].Seq {
		t.Errorf("a new event after retention is not after the old ones: %+v", e2)
	}
}

const capture = "kwok-only-v1.34.10"

// CaptureEvents decodes the relevant events of the kwok-only capture's
// audit.log, raw bytes kept, as the pipeline receives them.
func CaptureEvents(t testing.TB) []*decode.Event {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(here), "..", "testdata", capture, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	d := decode.Decoder{KeepRaw: true}
	var evs []*decode.Event
	for sc.Scan() {
		d.Decode(sc.Bytes(), func(ev *decode.Event) { evs = append(evs, ev) })
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return evs
}

// testPipeline runs the real ingest pipeline over a real capture into the
// store, twice with a restart between, and compares the stored records with
// what the lifecycle machine derives in memory from the same events.
func testPipeline(t *testing.T, st podtrace.Store) {
	evs := CaptureEvents(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := ingest.DefaultConfig()
	cfg.Cluster = "pipe"
	half := len(evs) / 2
	for _, part := range [][]*decode.Event{evs[:half], evs[half/2:]} { // overlapping halves, a restart between
		p := ingest.New(cfg, st, nil, nil, log)
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(part); i += 100 {
			Journal(t, p, part[i:min(i+100, len(part))])
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	CheckRecords(t, st, "pipe", evs)
}

// Journal hands evs to the pipeline as one batch and waits until they are
// durable (acknowledged).
func Journal(t testing.TB, p *ingest.Pipeline, evs []*decode.Event) {
	t.Helper()
	done, err := p.Enqueue(context.Background(), ingest.Batch{Events: evs}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// CheckRecords fails t unless the cluster's records in st are those the
// lifecycle machine derives in memory from evs.
func CheckRecords(t testing.TB, st podtrace.Store, cluster string, evs []*decode.Event) {
	t.Helper()
	m := lifecycle.New(lifecycle.DefaultConfig(), nil)
	for _, ev := range evs {
		m.Apply(ev)
	}
	var want []podtrace.Record
	for _, p := range m.Dirty() {
		want = append(want, p.Records(cluster)...)
	}
	if len(want) == 0 {
		t.Fatal("the events gave no records")
	}
	got, _, err := st.Records(ctx, podtrace.RecordFilter{Cluster: cluster, Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	canon := func(rs []podtrace.Record) string {
		sort.Slice(rs, func(i, j int) bool { return fmt.Sprint(rs[i].Key()) < fmt.Sprint(rs[j].Key()) })
		b, _ := json.MarshalIndent(rs, "", " ")
		return string(b)
	}
	g, w := canon(got), canon(want)
	if g == w {
		return
	}
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	lo := max(0, i-300)
	t.Fatalf("stored records differ from the machine's (%d stored, %d derived); first difference:\nstored:\n%s\nderived:\n%s",
		len(got), len(want), g[lo:min(len(g), i+300)], w[lo:min(len(w), i+300)])
}
