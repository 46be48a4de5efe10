package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/auditfile"
	"github.com/podtrace/podtrace/correlate"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/server"
	"github.com/podtrace/podtrace/sqlite"
)

const capture = "../testdata/kwok-only-v1.34.10/"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// replay ingests files into a new database and returns its records as JSON.
func replay(t *testing.T, files ...string) []byte {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "replay.db")
	st, err := sqlite.Open(ctx, db, sqlite.Options{Sync: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	// the analyses serve runs: diagnosis and SLO; the span joiner sets the
	// records' trace ids
	def := server.DefaultConfig()
	a, err := server.NewAnalysis(def.Diagnosis, def.SLO)
	if err != nil {
		t.Fatal(err)
	}
	j, err := correlate.New(correlate.DefaultConfig(), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.New(ingest.DefaultConfig(), st, []ingest.Analyzer{a, j}, nil, quiet())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r := auditfile.NewReader(p)
	for _, f := range files {
		if err := r.Replay(ctx, f, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return dump(t, st)
}

// dump lists every record of a store as stable JSON.
func dump(t *testing.T, st podtrace.Store) []byte {
	t.Helper()
	recs, _, err := st.Records(context.Background(), podtrace.RecordFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("no records")
	}
	b, err := json.MarshalIndent(recs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplayLogEqualsWebhookBatches(t *testing.T) {
	a := replay(t, capture+"audit.log")
	b := replay(t, capture+"audit-webhook-batches.jsonl")
	if !bytes.Equal(a, b) {
		t.Fatal("audit.log and the webhook batches give different records")
	}
	// replaying twice changes nothing: every event is a duplicate
	if c := replay(t, capture+"audit.log", capture+"audit.log"); !bytes.Equal(a, c) {
		t.Fatal("replaying a file twice changed the records")
	}
}

func start(t *testing.T, mod func(*server.Config)) (*server.Server, string) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.OTLPGRPCAddr, cfg.OTLPHTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DB = filepath.Join(t.TempDir(), "serve.db")
	cfg.Sync = "NORMAL"
	if mod != nil {
		mod(&cfg)
	}
	s, err := server.Start(context.Background(), cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg.DB
}

func batches(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open(capture + "audit-webhook-batches.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var out [][]byte
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

func post(t *testing.T, url string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestWebhookEqualsReplay posts the captured batches to a running server
// over HTTP, as the apiserver did, and compares with replaying the log.
func TestWebhookEqualsReplay(t *testing.T) {
	s, db := start(t, nil)
	url := "http://" + s.Addr() + "/audit"
	for i, b := range batches(t) {
		hdr := map[string]string{}
		if i%2 == 1 {
			b, hdr["Content-Encoding"] = gz(b), "gzip"
		}
		if code, msg := post(t, url, b, hdr); code != http.StatusOK {
			t.Fatalf("batch %d: %d %s", i, code, msg)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, want := dump(t, st), replay(t, capture+"audit.log"); !bytes.Equal(got, want) {
		t.Fatal("webhook ingest and replay give different records")
	}
}

func TestWebhookRejects(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	s, db := start(t, func(c *server.Config) { c.MaxBodyBytes = 64 << 10; c.IngestTokenFile = tokenFile })
	url := "http://" + s.Addr() + "/audit"
	auth := map[string]string{"Authorization": "Bearer s3cret"}
	good := batches(t)[13] // a batch with 7 pod events
	if len(good) > 64<<10 {
		t.Fatalf("test batch is %d bytes, over the test limit", len(good))
	}
	// a batch cut in the middle of an item: the items before are kept
	cut := good[:bytes.LastIndex(good, []byte(`{"level"`))+40]
	bomb := gz(bytes.Repeat([]byte(" "), 10<<20))
	cases := []struct {
		name   string
		method string
		body   []byte
		hdr    map[string]string
		code   int
		text   string
	}{
		{"no token", "POST", good, nil, 401, "token"},
		{"wrong token", "POST", good, map[string]string{"Authorization": "Bearer nope"}, 401, "token"},
		{"GET", "GET", nil, auth, 405, "POST"},
		{"not JSON", "POST", good, map[string]string{"Authorization": "Bearer s3cret", "Content-Type": "text/plain"}, 415, "content type"},
		{"too large", "POST", bytes.Repeat([]byte(" "), 70<<10), auth, 413, "over"},
		{"gzip bomb", "POST", bomb, map[string]string{"Authorization": "Bearer s3cret", "Content-Encoding": "gzip"}, 413, "over"},
		{"truncated", "POST", cut, auth, 400, "well-formed events before the fault were kept"},
		{"not audit", "POST", []byte(`{"kind":"Pod","apiVersion":"v1"}`), auth, 400, "not an audit"},
		{"empty", "POST", nil, auth, 400, "empty"},
		{"good", "POST", good, auth, 200, ""},
		{"duplicate", "POST", good, auth, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, url, bytes.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code || !strings.Contains(string(msg), c.text) {
				t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, msg, c.code, c.text)
			}
		})
	}
	// rejections are counted in /metrics
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`podtrace_webhook_rejected_total{reason="unauthorized"} 2`, `podtrace_webhook_rejected_total{reason="too_large"} 2`, `podtrace_webhook_rejected_total{reason="bad_json"} 3`, `podtrace_ingest_events_total{stage="duplicate"}`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// the truncated batch's good events and the good batch are all there, once
	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.EventsAfter(context.Background(), "default", 0, 100000)
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
	if len(evs) == 0 {
		t.Fatal("nothing journaled")
	}
}

// TestDeletedDatabase: with the database file deleted under a running
// server, a batch acknowledged would be lost on restart: the server is not
// ready and refuses batches (503, the apiserver retries), rather than
// acknowledging them into a deleted file.
func TestDeletedDatabase(t *testing.T) {
	s, db := start(t, nil)
	defer s.Close()
	base := "http://" + s.Addr()
	bs := batches(t)
	if code, msg := post(t, base+"/audit", bs[0], nil); code != http.StatusOK {
		t.Fatalf("batch before: %d %s", code, msg)
	}
	ready := func() int {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != http.StatusOK {
		t.Fatalf("readyz before: %d", code)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database deleted: %d, want 503", code)
	}
	if code, msg := post(t, base+"/audit", bs[13], nil); code != http.StatusServiceUnavailable { // 7 pod events
		t.Errorf("batch with the database deleted: %d %s, want 503", code, msg)
	}
}
