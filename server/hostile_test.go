package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

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

// TestHostileInput posts what a broken or hostile client could send. Each
// case has one expected answer: nothing crashes, nothing hangs, the
// well-formed events are kept once, and the answer says what was wrong.
func TestHostileInput(t *testing.T) {
	const maxBody = 24 << 20
	s, db := start(t, func(c *server.Config) { c.MaxBodyBytes = maxBody; c.MaxInflightBytes = 64 << 20 })
	url := "http://" + s.Addr() + "/audit"
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
	cases := []struct {
		name string
		body []byte
		hdr  map[string]string
		code int
		text string
	}{
		{"truncated JSON", []byte(ok[:len(ok)/2]), nil, 400, "malformed audit JSON"},
		{"a list cut short keeps its whole items", eventList(ok, auditEvent("cut-2", "ResponseComplete", "2026-11-21T20:48:40Z"))[:len(eventList(ok))+30], nil, 400, "1 well-formed events before the fault were kept"},
		{"wrong kind", []byte(`{"kind":"PodList","apiVersion":"v1","items":[]}`), nil, 400, "not an audit"},
		{"a core Event, not an audit Event", []byte(`{"kind":"Event","apiVersion":"v1","involvedObject":{"kind":"Pod","name":"p"},"reason":"Pulled"}`), nil, 400, "not an audit"},
		{"wrong apiVersion of an audit event list is read as audit", eventList(strings.Replace(ok, "audit.k8s.io/v1", "audit.k8s.io/v1beta1", 1)), nil, 200, ""},
		{"event without objectRef is skipped", eventList(`{"kind":"Event","auditID":"noref-1","stage":"ResponseComplete","verb":"get","requestURI":"/healthz"}`), nil, 200, ""},
		{"event without auditID", []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"delete","objectRef":{"resource":"pods"}}`), nil, 400, "without auditID"},
		{"gigantic single event under the limit", []byte(huge), nil, 200, ""},
		{"gigantic single event over the limit", []byte(tooHuge), nil, 413, "over"},
		{"deeply nested document", []byte(deep), nil, 400, "not a JSON object"},
		{"deeply nested item: the items before it are kept", eventList(ok, deepItem), nil, 400, "1 well-formed events before the fault were kept): offset 699: nesting too deep"},
		{"deeply nested object document", []byte(`{"kind":"EventList","items":[]` + strings.Repeat(`,"x":{"y":`, 100_000) + "1" + strings.Repeat("}", 100_000) + "}"), nil, 400, "nesting too deep"},
		{"invalid UTF-8 in strings", eventList(strings.Replace(auditEvent("utf8-XX", "ResponseComplete", "2026-11-21T20:48:39Z"), "XX", "\xff\xfe", 1)), nil, 200, ""},
		{"invalid UTF-8 outside strings", []byte("{\"kind\":\"EventList\",\xff\"items\":[]}"), nil, 400, "malformed"},
		{"unknown stage in a list is skipped", eventList(auditEvent("stage-1", "Bogus", "2026-11-21T20:48:39Z")), nil, 200, ""},
		{"unknown stage of a single event", []byte(auditEvent("stage-2", "Bogus", "2026-11-21T20:48:39Z")), nil, 400, "unknown stage"},
		{"timestamp from the far future", eventList(auditEvent("future-1", "ResponseComplete", "9999-12-31T23:59:59.999999Z")), nil, 200, ""},
		{"timestamp from the far past", eventList(auditEvent("past-1", "ResponseComplete", "0001-01-01T00:00:00Z")), nil, 200, ""},
		{"unparsable timestamp", eventList(auditEvent("badtime-1", "ResponseComplete", "yesterday")), nil, 200, ""},
		{"a batch", eventList(ok), nil, 200, ""},
		{"the same batch again", eventList(ok), nil, 200, ""},
		{"100k tiny events", eventList(tiny...), nil, 200, ""},
		{"wrong Content-Type", eventList(ok), map[string]string{"Content-Type": "text/plain"}, 415, "content type"},
		{"form Content-Type", eventList(ok), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "content type"},
		{"unparsable Content-Type", eventList(ok), map[string]string{"Content-Type": "application/json; ;;"}, 415, "content type"},
		{"gzip bomb", gz(bytes.Repeat([]byte("{"), 64<<20)), map[string]string{"Content-Encoding": "gzip"}, 413, "over"},
		{"not gzip but says so", eventList(ok), map[string]string{"Content-Encoding": "gzip"}, 400, "gzip"},
		{"empty body", nil, nil, 400, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, msg := post(t, url, c.body, c.hdr)
			if code != c.code || !strings.Contains(msg, c.text) {
				if len(msg) > 300 {
					msg = msg[:300] + "..."
				}
				t.Errorf("got %d %q, want %d containing %q", code, msg, c.code, c.text)
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
	for _, k := range []string{"ok-1/ResponseComplete", "huge-1/ResponseComplete", "utf8-\xff\xfe/ResponseComplete", "future-1/ResponseComplete", "past-1/ResponseComplete", "t99999/ResponseComplete"} {
		if seen[k] != 1 {
			t.Errorf("event %q not journaled", k)
		}
	}
	for _, k := range []string{"stage-1/Bogus", "stage-2/Bogus", "deep-1/ResponseComplete", "noref-1/ResponseComplete"} {
		if seen[k] != 0 {
			t.Errorf("event %q journaled", k)
		}
	}
	if n := len(evs); n < 100_000 {
		t.Errorf("%d events journaled, want the 100k tiny ones and more", n)
	}
	_ = http.StatusOK
}
