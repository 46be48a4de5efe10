package webhook_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/webhook"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// captureLines returns the lines of a real capture file.
func captureLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
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
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// newHandler returns a webhook handler over a real pipeline and SQLite
// store in a temp dir.
func newHandler(t testing.TB, opt webhook.Options) (*webhook.Handler, *ingest.Pipeline) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fuzz.db"), sqlite.Options{Sync: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.New(ingest.DefaultConfig(), st, nil, nil, quiet())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		st.Close()
	})
	return webhook.New(opt, p, quiet()), p
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// FuzzHandler posts arbitrary bodies (plain or gzip) to the webhook handler
// over a real pipeline: it never panics, answers only with the documented
// statuses, and answers 200 exactly when the body is a well-formed audit
// document.
func FuzzHandler(f *testing.F) {
	batches := captureLines(f, "../testdata/kwok-only-v1.34.10/audit-webhook-batches.jsonl")
	for i, b := range batches {
		if i%6 == 0 {
			f.Add(b, false)
		}
	}
	for i, l := range captureLines(f, "../testdata/mixed-kwok-hollowkubelet-v1.34.10/audit.log") {
		if i%60 == 0 {
			f.Add(l, i%120 == 0)
		}
	}
	f.Add([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`), false)
	f.Add([]byte(`{"kind":"EventList","items":[{"auditID":"x","stage":"Bogus"}]}`), true)
	f.Add([]byte(`[[[[[[[[[[`), false)
	f.Add([]byte("{\"kind\":\"Event\",\"auditID\":\"\xff\xfe\"}"), false)
	const maxBytes = 1 << 20
	h, _ := newHandler(f, webhook.Options{MaxBytes: maxBytes})
	f.Fuzz(func(t *testing.T, body []byte, gz bool) {
		send := body
		req := httptest.NewRequest(http.MethodPost, "/audit", nil)
		if gz {
			send = gzipped(body)
			req.Header.Set("Content-Encoding", "gzip")
		}
		req.Body = io.NopCloser(bytes.NewReader(send))
		req.ContentLength = int64(len(send))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		// the handler's decoder keeps (and so strictly validates) raw events
		d := decode.Decoder{KeepRaw: true}
		derr := d.Decode(body, func(*decode.Event) {})
		switch {
		case len(send) > maxBytes || len(body) > maxBytes:
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d-byte body: got %d, want 413", len(body), rec.Code)
			}
		case rec.Code == http.StatusOK:
			if derr != nil {
				t.Fatalf("200 for a body the decoder rejects (%v)", derr)
			}
		case rec.Code == http.StatusBadRequest:
			if derr == nil {
				t.Fatalf("400 %q for a body the decoder accepts", rec.Body.String())
			}
		default:
			t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body.String())
		}
	})
}
