package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
)

// TestPodEventsPaged: a pod with thousands of status patches (15k made one
// 42 MB response; 8 at once took 1.2 GB) is served a page at a time: at
// most limit events (500 by default) and the cursor of the next page;
// walking the pages gives every event once, in journal order. A bad
// cursor or limit is a 400.
func TestPodEventsPaged(t *testing.T) {
	ctx := context.Background()
	st := loadCapture(t, t.TempDir())
	defer st.Close()
	recs, _, err := st.Records(ctx, podtrace.RecordFilter{Namespace: "demo", Name: "too-big", Limit: 1})
	if err != nil || len(recs) == 0 {
		t.Fatalf("no demo/too-big in the capture: %v", err)
	}
	pod := recs[0]
	orig, err := st.PodEvents(ctx, pod.Cluster, pod.UID, podtrace.EventPage{})
	if err != nil || len(orig) == 0 {
		t.Fatalf("events of %s: %d, %v", pod.UID, len(orig), err)
	}
	// 3000 more status patches, as a crash-looping pod's kubelet sends
	const extra = 3000
	more := make([]podtrace.JournalEvent, extra)
	for i := range more {
		e := orig[len(orig)-1]
		e.Key = fmt.Sprintf("status-patch-%d/ResponseComplete", i)
		e.Time = e.Time.Add(1)
		more[i] = e
	}
	if _, err := st.AppendEvents(ctx, more); err != nil {
		t.Fatal(err)
	}
	a := api.New(st, api.Options{Log: quiet()})
	get := func(target string) (int, api.EventList) {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		return rec.Code, decodeInto[api.EventList](t, response{rec.Code, rec.Body.Bytes()})
	}
	base := "/api/v1/pods/" + pod.UID + "/events"
	seen := map[int64]bool{}
	var lastSeq int64
	pages := 0
	for target := base; ; pages++ {
		code, l := get(target)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", target, code)
		}
		if len(l.Items) > 500 {
			t.Fatalf("%s: %d events in one page, want at most 500", target, len(l.Items))
		}
		for _, it := range l.Items {
			if seen[it.Seq] {
				t.Fatalf("event %d served twice", it.Seq)
			}
			seen[it.Seq] = true
		}
		if len(l.Items) > 0 {
			lastSeq = l.Items[len(l.Items)-1].Seq
		}
		if l.Next == nil {
			break
		}
		target = base + "?cursor=" + *l.Next
	}
	if len(seen) != len(orig)+extra || pages < (len(orig)+extra)/500 {
		t.Fatalf("%d events in %d pages, want %d", len(seen), pages+1, len(orig)+extra)
	}
	if want := more[extra-1].Seq; lastSeq != want && want != 0 {
		t.Errorf("last event served %d, want %d", lastSeq, want)
	}
	if _, l := get(base + "?limit=10"); len(l.Items) != 10 || l.Next == nil {
		t.Errorf("limit=10: %d events, next %v", len(l.Items), l.Next)
	}
	for _, bad := range []string{"?cursor=nope", "?cursor=1.0", "?limit=0", "?limit=1001"} {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, base+bad, nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, rec.Code)
		}
	}
}
