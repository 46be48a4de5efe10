package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace/server"
	"github.com/podtrace/podtrace/sqlite"
)

// auditEvent renders one audit event about pod demo/p with the given
// auditID, stage and timestamps (RFC 3339).
func auditEvent(id, stage, at string) string {
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":%q,"stage":%q,"verb":"delete",`+
		`"user":{"username":"u"},"objectRef":{"resource":"pods","namespace":"demo","name":"p","apiVersion":"v1"},"responseStatus":{"code":200},`+
		`"requestReceivedTimestamp":%q,"stageTimestamp":%q}`, id, stage, at, at)
}

func eventList(items ...string) []byte {
	return []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`)
}

// Series of /metrics the hostile input table counts in.
const (
	badJSON    = `podtrace_webhook_rejected_total{reason="bad_json"}`
	badBody    = `podtrace_webhook_rejected_total{reason="bad_body"}`
	tooLarge   = `podtrace_webhook_rejected_total{reason="too_large"}`
	badType    = `podtrace_webhook_rejected_total{reason="content_type"}`
	relevant   = `podtrace_audit_events_total{result="relevant",source="webhook"}`
	skipped    = `podtrace_audit_events_total{result="skipped",source="webhook"}`
	malformed  = `podtrace_audit_events_total{result="malformed",source="webhook"}`
	journaled  = `podtrace_ingest_events_total{stage="journaled"}`
	duplicate  = `podtrace_ingest_events_total{stage="duplicate"}`
	clockAhead = `podtrace_event_clock_ahead_events_total`
)

// scrape reads the value of every series of /metrics.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return parseMetrics(string(b))
}

// parseMetrics maps each series of a /metrics text to its value.
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		series, v, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.Fields(v)[0], 64); err == nil {
			out[series] = f
		}
	}
	return out
}

// TestHostileInput posts what a broken or hostile client could send. Each
// case has one expected answer and one counter it moves: nothing crashes,
// nothing hangs, the well-formed events are kept once, and the answer says
// what was wrong.
func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (make test's race pass): its 100k events take over 10 minutes under the race detector; the unit pass runs it")
	}
	const maxBody = 24 << 20
	s, db := start(t, func(c *server.Config) { c.MaxBodyBytes = maxBody; c.MaxInflightBytes = 64 << 20 })
	base := "http://" + s.Addr()
	url := base + "/audit"
	ok := auditEvent("ok-1", "ResponseComplete", "2026-11-21T20:48:39.000000Z")

	huge := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"huge-1","stage":"ResponseComplete","verb":"create",` +
		`"user":{"username":"u"},"objectRef":{"resource":"pods","namespace":"demo","name":"big","apiVersion":"v1"},"responseStatus":{"code":201},` +
		`"responseObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"big","namespace":"demo","uid":"u-big","annotations":{"a":"` +
		strings.Repeat("x", 6<<20) + `"}},"spec":{"containers":[{"name":"c","image":"i"}]},"status":{"phase":"Pending"}},` +
		`"requestReceivedTimestamp":"2026-11-21T20:48:39.000000Z","stageTimestamp":"2026-11-21T20:48:39.100000Z"}`
	tooHuge := strings.Replace(huge, strings.Repeat("x", 6<<20), strings.Repeat("x", 25<<20), 1)
	deep := strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20)
	deepItem := `{"auditID":"deep-1","stage":"ResponseComplete","requestObject":` + deep + `}`
	var tiny []string
	for i := range 100_000 {
		tiny = append(tiny, fmt.Sprintf(`{"auditID":"t%d","stage":"ResponseComplete","verb":"delete","objectRef":{"resource":"pods","namespace":"n","name":"p%d"},"stageTimestamp":"2026-11-21T20:48:39Z"}`, i, i%1000))
	}
	batch := auditEvent("batch-1", "ResponseComplete", "2026-11-21T20:48:39.000000Z")
	noTime := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"notime-1","stage":"ResponseComplete","verb":"delete","objectRef":{"resource":"pods","namespace":"demo","name":"p"}}`
	cases := []struct {
		name    string
		body    []byte
		hdr     map[string]string
		code    int
		text    string
		counter string // the series that counts it
		delta   float64
	}{
		{"truncated JSON", []byte(ok[:len(ok)/2]), nil, 400, "malformed audit JSON", badJSON, 1},
		{"a list cut short keeps its whole items", eventList(ok, auditEvent("cut-2", "ResponseComplete", "2026-11-21T20:48:40Z"))[:len(eventList(ok))+30], nil, 400, "1 well-formed events before the fault were kept", badJSON, 1},
		{"wrong kind", []byte(`{"kind":"PodList","apiVersion":"v1","items":[]}`), nil, 400, "not an audit", badJSON, 1},
		{"a core Event, not an audit Event", []byte(`{"kind":"Event","apiVersion":"v1","involvedObject":{"kind":"Pod","name":"p"},"reason":"Pulled"}`), nil, 400, "not an audit", badJSON, 1},
		{"wrong apiVersion of an audit event list is read as audit", eventList(strings.Replace(auditEvent("v1beta1-1", "ResponseComplete", "2026-11-21T20:48:39Z"), "audit.k8s.io/v1", "audit.k8s.io/v1beta1", 1)), nil, 200, "", relevant, 1},
		{"wrong apiVersion of a single audit event is read as audit", []byte(strings.Replace(auditEvent("v1beta1-2", "ResponseComplete", "2026-11-21T20:48:39Z"), "audit.k8s.io/v1", "audit.k8s.io/v1beta1", 1)), nil, 200, "", relevant, 1},
		{"event without objectRef is skipped", eventList(`{"kind":"Event","auditID":"noref-1","stage":"ResponseComplete","verb":"get","requestURI":"/healthz"}`), nil, 200, "", skipped, 1},
		{"event without auditID", []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"delete","objectRef":{"resource":"pods"}}`), nil, 400, "without auditID", malformed, 1},
		{"event without a timestamp", []byte(noTime), nil, 400, "without a timestamp", badJSON, 1},
		{"gigantic single event under the limit", []byte(huge), nil, 200, "", relevant, 1},
		{"gigantic single event over the limit", []byte(tooHuge), nil, 413, "over", tooLarge, 1},
		{"deeply nested document", []byte(deep), nil, 400, "not a JSON object", badJSON, 1},
		{"deeply nested item: the items before it are kept", eventList(ok, deepItem), nil, 400, "1 well-formed events before the fault were kept): offset 699: nesting too deep", badJSON, 1},
		{"deeply nested object document", []byte(`{"kind":"EventList","items":[]` + strings.Repeat(`,"x":{"y":`, 100_000) + "1" + strings.Repeat("}", 100_000) + "}"), nil, 400, "nesting too deep", badJSON, 1},
		{"invalid UTF-8 in strings", eventList(strings.Replace(auditEvent("utf8-XX", "ResponseComplete", "2026-11-21T20:48:39Z"), "XX", "\xff\xfe", 1)), nil, 200, "", relevant, 1},
		{"invalid UTF-8 outside strings", []byte("{\"kind\":\"EventList\",\xff\"items\":[]}"), nil, 400, "malformed", badJSON, 1},
		{"an item with a broken token is skipped, its neighbours kept", eventList(auditEvent("nb-1", "ResponseComplete", "2026-11-21T20:48:39Z"), `{"auditID":"nb-2","stage":tru,"verb":"delete"}`, auditEvent("nb-3", "ResponseComplete", "2026-11-21T20:48:39Z")), nil, 200, "", relevant, 2},
		{"unknown stage in a list is skipped", eventList(auditEvent("stage-1", "Bogus", "2026-11-21T20:48:39Z")), nil, 200, "", malformed, 1},
		{"unknown stage of a single event", []byte(auditEvent("stage-2", "Bogus", "2026-11-21T20:48:39Z")), nil, 400, "unknown stage", badJSON, 1},
		{"timestamp a day ahead: kept, the clock does not follow", eventList(auditEvent("future-1", "ResponseComplete", "2026-11-22T20:48:39.000000Z")), nil, 200, "", clockAhead, 1},
		{"timestamp a day behind: kept", eventList(auditEvent("past-1", "ResponseComplete", "2026-11-20T20:48:39.000000Z")), nil, 200, "", relevant, 1},
		{"timestamp beyond 2262 (not unix ns)", eventList(auditEvent("future-2", "ResponseComplete", "9999-12-31T23:59:59.999999Z")), nil, 200, "", malformed, 1},
		{"timestamp before 1678 (not unix ns)", eventList(auditEvent("past-2", "ResponseComplete", "0001-01-01T00:00:00Z")), nil, 200, "", malformed, 1},
		{"unparsable timestamp", eventList(auditEvent("badtime-1", "ResponseComplete", "yesterday")), nil, 200, "", malformed, 1},
		{"a batch", eventList(batch), nil, 200, "", journaled, 1},
		{"the same batch again", eventList(batch), nil, 200, "", duplicate, 1},
		{"100k tiny events", eventList(tiny...), nil, 200, "", journaled, 100_000},
		{"wrong Content-Type", eventList(ok), map[string]string{"Content-Type": "text/plain"}, 415, "content type", badType, 1},
		{"form Content-Type", eventList(ok), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "content type", badType, 1},
		{"unparsable Content-Type", eventList(ok), map[string]string{"Content-Type": "application/json; ;;"}, 415, "content type", badType, 1},
		{"gzip bomb", gz(bytes.Repeat([]byte("{"), 64<<20)), map[string]string{"Content-Encoding": "gzip"}, 413, "over", tooLarge, 1},
		{"not gzip but says so", eventList(ok), map[string]string{"Content-Encoding": "gzip"}, 400, "gzip", badBody, 1},
		{"empty body", nil, nil, 400, "empty", badJSON, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := scrape(t, base)[c.counter]
			code, msg := post(t, url, c.body, c.hdr)
			if code != c.code || !strings.Contains(msg, c.text) {
				if len(msg) > 300 {
					msg = msg[:300] + "..."
				}
				t.Errorf("got %d %q, want %d containing %q", code, msg, c.code, c.text)
			}
			// journal and clock counters move once the pipeline got there
			var got float64
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if got = scrape(t, base)[c.counter] - before; got >= c.delta {
					break
				}
			}
			if got != c.delta {
				t.Errorf("%s moved by %v, want %v", c.counter, got, c.delta)
			}
		})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.EventsAfter(context.Background(), "default", 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.Key]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("event %s journaled %d times", k, n)
		}
	}
	for _, k := range []string{"ok-1/ResponseComplete", "huge-1/ResponseComplete", "utf8-\xff\xfe/ResponseComplete", "future-1/ResponseComplete", "past-1/ResponseComplete",
		"v1beta1-1/ResponseComplete", "v1beta1-2/ResponseComplete", "batch-1/ResponseComplete", "t99999/ResponseComplete"} {
		if seen[k] != 1 {
			t.Errorf("event %q not journaled", k)
		}
	}
	for _, k := range []string{"stage-1/Bogus", "stage-2/Bogus", "deep-1/ResponseComplete", "noref-1/ResponseComplete", "notime-1/ResponseComplete",
		"future-2/ResponseComplete", "past-2/ResponseComplete", "badtime-1/ResponseComplete"} {
		if seen[k] != 0 {
			t.Errorf("event %q journaled", k)
		}
	}
	if n := len(evs); n < 100_000 {
		t.Errorf("%d events journaled, want the 100k tiny ones and more", n)
	}
}

// TestFarFutureEvent: one audit event stamped a century ahead, just before
// the capture's last pod create, is journaled but does not move the event
// clock: the new pod, open and analysed after it, is not "pending for a
// century"; the records are those of the capture without it.
func TestFarFutureEvent(t *testing.T) {
	b, err := os.ReadFile(capture + "audit.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	last := -1
	for i, l := range lines {
		if bytes.Contains(l, []byte(`/pods","verb":"create"`)) {
			last = i
		}
	}
	future := []byte(auditEvent("future-clock-1", "ResponseComplete", "2126-11-21T20:48:39.000000Z") + "\n")
	alone := bytes.Join(lines[:last+1], nil)
	with := bytes.Join([][]byte{bytes.Join(lines[:last], nil), future, lines[last]}, nil)
	dir := t.TempDir()
	if os.WriteFile(filepath.Join(dir, "alone.log"), alone, 0o600) != nil || os.WriteFile(filepath.Join(dir, "with.log"), with, 0o600) != nil {
		t.Fatal("write")
	}
	want := replay(t, filepath.Join(dir, "alone.log"))
	if !bytes.Contains(want, []byte(`"outcome": "pending"`)) {
		t.Fatal("no open delivery: the test proves nothing")
	}
	if got := replay(t, filepath.Join(dir, "with.log")); !bytes.Equal(got, want) {
		t.Fatalf("a far-future event changed the records:\n%.3000s", got)
	}
}

// TestHeldMetrics: a delete that names a pod podtrace never saw is held for
// it (podtrace_held_events); once the event clock is idle_after past it, it
// is dropped and counted as expired.
func TestHeldMetrics(t *testing.T) {
	s, _ := start(t, nil)
	base := "http://" + s.Addr()
	wait := func(want map[string]float64) {
		t.Helper()
		var got map[string]float64
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			got = scrape(t, base)
			ok := true
			for k, v := range want {
				ok = ok && got[k] == v
			}
			if ok {
				return
			}
		}
		t.Fatalf("metrics never reached %v: %v held, %v dropped (bound), %v expired", want,
			got["podtrace_held_events"], got[`podtrace_held_events_dropped_total{reason="bound"}`], got[`podtrace_held_events_dropped_total{reason="expired"}`])
	}
	const expired = `podtrace_held_events_dropped_total{reason="expired"}`
	if code, msg := post(t, base+"/audit", eventList(auditEvent("held-1", "ResponseComplete", "2026-11-21T20:00:00Z")), nil); code != 200 {
		t.Fatalf("%d %s", code, msg)
	}
	wait(map[string]float64{"podtrace_held_events": 1, expired: 0})
	// two events 11 minutes later (a second one confirms the clock's step)
	if code, msg := post(t, base+"/audit", eventList(auditEvent("held-2", "ResponseComplete", "2026-11-21T20:11:00Z"), auditEvent("held-3", "ResponseComplete", "2026-11-21T20:11:01Z")), nil); code != 200 {
		t.Fatalf("%d %s", code, msg)
	}
	wait(map[string]float64{"podtrace_held_events": 2, expired: 1})
}

// TestForgedFutureClock: two forged events dated a century ahead, a minute
// apart, sent to the webhook, do not move the event clock there (before,
// they did for good, and every later pod was flagged SchedulingSlow,
// "waited 868779h").
func TestForgedFutureClock(t *testing.T) {
	s, _ := start(t, nil)
	defer s.Close()
	url := "http://" + s.Addr() + "/audit"
	forged := eventList(auditEvent("forged-clock-1", "ResponseComplete", "2126-11-21T20:48:39.000000Z"),
		auditEvent("forged-clock-2", "ResponseComplete", "2126-11-21T20:49:39.000000Z"))
	bs := batches(t)
	for _, b := range append([][]byte{bs[0], forged}, bs[1:]...) {
		if code, msg := post(t, url, b, nil); code != http.StatusOK {
			t.Fatalf("%d %s", code, msg)
		}
	}
	var clock float64
	for try := 0; try < 200; try++ {
		if clock = scrape(t, "http://"+s.Addr())["podtrace_event_clock_seconds"]; clock > 0 && try > 5 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if year := time.Unix(int64(clock), 0).UTC().Year(); clock == 0 || year > 2100 {
		t.Errorf("event clock %v (year %d) after two forged events", clock, year)
	}
}
