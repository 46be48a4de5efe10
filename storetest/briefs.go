package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
)

// briefsOf reads the briefs f selects.
func briefsOf(t *testing.T, st podtrace.Store, f podtrace.RecordFilter) []podtrace.Brief {
	t.Helper()
	var out []podtrace.Brief
	if err := st.Briefs(ctx, f, func(b *podtrace.Brief) bool {
		out = append(out, *b.Clone())
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// briefKeys and recordKeys list keys with U+FFFD for each invalid UTF-8
// byte, as a record read back from its JSON has them (a brief has the bytes
// saved).
func briefKeys(bs []podtrace.Brief) string {
	return keyList(len(bs), func(i int) podtrace.Key { return bs[i].Key() })
}

func recordKeys(rs []podtrace.Record) string {
	return keyList(len(rs), func(i int) podtrace.Key { return rs[i].Key() })
}

func keyList(n int, key func(int) podtrace.Key) string {
	var s []string
	for i := range n {
		k := key(i)
		s = append(s, string([]rune(fmt.Sprintf("%s/%s/%s/%d", k.Cluster, k.UID, k.Kind, k.Seq))))
	}
	j, _ := json.Marshal(s)
	return string(j)
}

func sameBrief(t *testing.T, got, want podtrace.Brief) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("brief:\n got %s\nwant %s", g, w)
	}
}

// briefRecords are records with every part a brief holds: SLO verdicts
// met, missed and undecided, no SLO (time from the phases), findings,
// open and finished, text a hostile audit event may carry.
func briefRecords() []podtrace.Record {
	yes, no := true, false
	fin := t0.Add(40 * time.Second)
	ph := func(name string, from, to time.Duration, o podtrace.Owner) podtrace.Phase {
		return podtrace.Phase{Name: name, Start: t0.Add(from), End: t0.Add(to), Owner: o}
	}
	met := record("a", "u-met", podtrace.KindCreate, 0, t0)
	met.Outcome, met.Finished, met.Node, met.OwnerKind, met.OwnerName = podtrace.OutcomeReady, &fin, "n1", "ReplicaSet", "web-1"
	met.SLO = &podtrace.SLO{TargetSeconds: 90, TotalSeconds: 40, PlatformSeconds: 30.5, UserSeconds: 9.5, Met: &yes, Rule: "default"}
	missed := record("a", "u-missed", podtrace.KindDelete, 0, t0.Add(time.Second))
	missed.Outcome, missed.Finished = podtrace.OutcomeDeleted, &fin
	missed.SLO = &podtrace.SLO{TargetSeconds: 30, TotalSeconds: 39, PlatformSeconds: 39, Met: &no}
	missed.Diagnosis = []podtrace.Finding{
		{Code: "DeleteBlockedByFinalizer", Phase: "termination", Owner: podtrace.OwnerUser, Message: "finalizer", Evidence: []podtrace.Evidence{}},
		{Code: "TerminationSlow", Phase: "termination", Owner: podtrace.OwnerPlatform, Message: "slow"},
	}
	open := record("a", "u-open", podtrace.KindUpgrade, 3, t0.Add(2*time.Second))
	open.Outcome = podtrace.OutcomeRunning
	open.SLO = &podtrace.SLO{TargetSeconds: 90, TotalSeconds: 12}
	open.Phases = []podtrace.Phase{ph("image", 2*time.Second, 50*time.Second, podtrace.OwnerUser)}
	noSLO := record("b", "u-noslo", podtrace.KindCreate, 0, t0.Add(3*time.Second))
	noSLO.Phases = []podtrace.Phase{ph("scheduling", 3*time.Second, 4*time.Second, podtrace.OwnerPlatform), ph("image", 4*time.Second, 7500*time.Millisecond, podtrace.OwnerUser)}
	noSLO.Milestones = append(noSLO.Milestones, podtrace.Milestone{Name: "scheduled", Time: t0.Add(4 * time.Second)})
	noSLO.Diagnosis = []podtrace.Finding{{Code: "ImagePullBackOff", Phase: "image", Owner: podtrace.OwnerUser}}
	bad := "a\x00b\xff\xfe"
	hostile := record("b", "u-"+bad, podtrace.KindCreate, 0, t0.Add(4*time.Second))
	hostile.Name, hostile.OwnerName = "p-"+bad, "o-"+bad
	hostile.Diagnosis = []podtrace.Finding{{Code: "Code" + bad, Phase: "\x1e\x1f\t", Owner: podtrace.OwnerUser}}
	return []podtrace.Record{met, missed, open, noSLO, hostile}
}

// testBriefs: a record's brief comes back as Record.Brief made it, for the
// records and in the order Records lists, and follows the record's saves.
func testBriefs(t *testing.T, st podtrace.Store) {
	recs := briefRecords()
	for _, c := range []string{"a", "b"} {
		var batch []podtrace.Record
		for _, r := range recs {
			if r.Cluster == c {
				batch = append(batch, r)
			}
		}
		if err := st.Save(ctx, podtrace.Commit{Cluster: c, Records: batch, Applied: 5}); err != nil {
			t.Fatal(err)
		}
	}
	all := briefsOf(t, st, podtrace.RecordFilter{})
	if got, want := briefKeys(all), `["b/u-a\u0000b`+"\uFFFD\uFFFD"+`/create/0","b/u-noslo/create/0","a/u-open/upgrade/3","a/u-missed/delete/0","a/u-met/create/0"]`; got != want {
		t.Fatalf("briefs newest first: got %s, want %s", got, want)
	}
	for i, b := range all {
		sameBrief(t, b, recs[len(recs)-1-i].Brief())
	}
	page, next := must2(t)(st.Records(ctx, podtrace.RecordFilter{Limit: 2}))
	for _, f := range []podtrace.RecordFilter{
		{Cluster: "a"},
		{Namespace: "ns", Kind: podtrace.KindCreate},
		{Outcome: podtrace.OutcomeDeleted},
		{Code: "TerminationSlow"},
		{Owner: podtrace.OwnerUser},
		{Node: "n1"},
		{Since: t0.Add(time.Second), Until: t0.Add(4 * time.Second)},
		{TraceID: recs[2].TraceHex()},
		{Cursor: next},
		{Cluster: "nope"},
	} {
		rs, _ := must2(t)(st.Records(ctx, f))
		want := recordKeys(rs)
		if got := briefKeys(briefsOf(t, st, f)); got != want {
			t.Errorf("filter %+v: briefs %s, records %s", f, got, want)
		}
	}
	if got := briefKeys(briefsOf(t, st, podtrace.RecordFilter{Limit: 2})); got != recordKeys(page) {
		t.Errorf("limit 2: briefs %s, records %s", got, recordKeys(page))
	}
	calls := 0
	if err := st.Briefs(ctx, podtrace.RecordFilter{}, func(*podtrace.Brief) bool { calls++; return false }); err != nil || calls != 1 {
		t.Errorf("fn said stop: %d calls, %v", calls, err)
	}

	// a later save replaces the brief; an earlier one does not
	done := recs[2]
	done.Outcome, done.Finished = podtrace.OutcomeReady, &done.Phases[0].End
	done.Diagnosis = []podtrace.Finding{{Code: "ImagePullSlow", Phase: "image", Owner: podtrace.OwnerUser}}
	stale := recs[2]
	stale.Outcome = podtrace.OutcomePending
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Records: []podtrace.Record{done}, Applied: 9}); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Records: []podtrace.Record{stale}, Applied: 7}); err != nil {
		t.Fatal(err)
	}
	got := briefsOf(t, st, podtrace.RecordFilter{UID: "u-open"})
	if len(got) != 1 {
		t.Fatalf("briefs of u-open: %d", len(got))
	}
	sameBrief(t, got[0], done.Brief())
}

// testSpanTraces: a component span's trace id finds the deliveries that
// link its spans, as long as they do.
func testSpanTraces(t *testing.T, st podtrace.Store) {
	const x, y = "0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736"
	span := func(trace, id string) podtrace.Span {
		return podtrace.Span{Service: "kubelet", Name: "syncPod", Start: t0, End: t0.Add(time.Second), TraceID: trace, SpanID: id}
	}
	r1 := record("a", "u1", podtrace.KindCreate, 0, t0)
	r1.Spans = []podtrace.Span{span(x, "b7ad6b7169203331"), span(x, "00f067aa0ba902b7"), span(y, "00f067aa0ba902b8")}
	r2 := record("a", "u2", podtrace.KindCreate, 0, t0.Add(time.Second))
	r2.Spans = []podtrace.Span{span("0AF7651916CD43DD8448EB211C80319C", "1111111111111111")} // spelled in upper case
	r3 := record("b", "u3", podtrace.KindCreate, 0, t0.Add(2*time.Second))
	for _, r := range []podtrace.Record{r1, r2, r3} {
		if err := st.Save(ctx, podtrace.Commit{Cluster: r.Cluster, Records: []podtrace.Record{r}, Applied: 1}); err != nil {
			t.Fatal(err)
		}
	}
	find := func(id string) string {
		t.Helper()
		rs, _ := must2(t)(st.Records(ctx, podtrace.RecordFilter{SpanTraceID: id}))
		return recordKeys(rs)
	}
	if got := find(x); got != `["a/u2/create/0","a/u1/create/0"]` {
		t.Errorf("trace %s: %s", x, got)
	}
	if got := find(y); got != `["a/u1/create/0"]` {
		t.Errorf("trace %s: %s", y, got)
	}
	if got := briefKeys(briefsOf(t, st, podtrace.RecordFilter{SpanTraceID: y})); got != `["a/u1/create/0"]` {
		t.Errorf("briefs of trace %s: %s", y, got)
	}
	if got := find(r3.TraceHex()); got != "null" {
		t.Errorf("a delivery's own trace id is not a component's: %s", got)
	}
	// the record no longer links trace y's span
	r1.Spans = r1.Spans[:2]
	if err := st.Save(ctx, podtrace.Commit{Cluster: "a", Records: []podtrace.Record{r1}, Applied: 2}); err != nil {
		t.Fatal(err)
	}
	if got := find(y); got != "null" {
		t.Errorf("trace %s after the record dropped its span: %s", y, got)
	}
	// retention takes the records, and their component traces with them
	must[int](t)(st.DeleteBefore(ctx, "a", t0.Add(time.Hour), 100))
	if got := find(x); got != "null" {
		t.Errorf("trace %s after retention: %s", x, got)
	}
}

// BriefMigration checks the migration that gave stored records their
// briefs and component trace ids. old writes recs as a store from before
// it did (their bodies and the columns of then; no trace id, as before
// its own migration) and returns a store opened on them, migrated.
func BriefMigration(t *testing.T, old func(t *testing.T, recs []podtrace.Record) podtrace.Store) {
	fin := t0.Add(40 * time.Second)
	met := false
	recs := []podtrace.Record{{
		Cluster: "c", Namespace: "ns", Name: "web", UID: "u1", Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeReady,
		Created: t0, Finished: &fin, Node: "n1", OwnerKind: "ReplicaSet", OwnerName: "web-1",
		SLO:       &podtrace.SLO{TargetSeconds: 30, TotalSeconds: 40, PlatformSeconds: 4, UserSeconds: 36, Met: &met},
		Diagnosis: []podtrace.Finding{{Code: "ImagePullSlow", Phase: "image", Owner: podtrace.OwnerUser}},
		Spans:     []podtrace.Span{{Service: "kubelet", Name: "syncPod", Start: t0, End: fin, TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"}},
	}, {
		Cluster: "c", Namespace: "ns", Name: "job", UID: "u2", Kind: podtrace.KindCreate, Outcome: podtrace.OutcomePending,
		Created: t0.Add(time.Second),
		Phases:  []podtrace.Phase{{Name: "scheduling", Start: t0.Add(time.Second), End: t0.Add(9 * time.Second), Owner: podtrace.OwnerPlatform}},
	}}
	st := old(t, recs)
	defer st.Close()
	got := briefsOf(t, st, podtrace.RecordFilter{})
	if len(got) != len(recs) {
		t.Fatalf("%d briefs, want %d", len(got), len(recs))
	}
	for i, b := range got {
		sameBrief(t, b, recs[len(recs)-1-i].Brief())
	}
	for _, f := range []podtrace.RecordFilter{{SpanTraceID: "0af7651916cd43dd8448eb211c80319c"}, {TraceID: recs[0].TraceHex()}} {
		if rs, _ := must2(t)(st.Records(ctx, f)); len(rs) != 1 || rs[0].UID != "u1" {
			t.Errorf("%+v finds %s, want u1", f, recordKeys(rs))
		}
	}
}
