package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

// captureEnv names a directory to write a run's capture into: the audit
// log, the webhook batches and the OTLP requests, as in testdata/.
const captureEnv = "PODTRACE_E2E_CAPTURE"

// tee stands between the cluster and the podtrace under test: it forwards
// every audit webhook batch and every OTLP trace export unchanged, answering
// with podtrace's own answer, and keeps a copy of each for a capture.
type tee struct {
	collectortrace.UnimplementedTraceServiceServer
	AuditURL string // ends in /audit
	OTLPAddr string // host:port of its OTLP gRPC receiver

	auditTarget string
	otlp        collectortrace.TraceServiceClient

	mu      sync.Mutex
	batches [][]byte // compacted EventList JSON, one per batch
	exports [][]byte // protojson ExportTraceServiceRequest, one per call
}

// newTee forwards audit batches to auditTarget (a URL) and OTLP exports to
// otlpTarget (host:port, plain gRPC).
func newTee(t *testing.T, auditTarget, otlpTarget string) *tee {
	conn, err := grpc.NewClient(otlpTarget, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := &tee{auditTarget: auditTarget, otlp: collectortrace.NewTraceServiceClient(conn)}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /audit", r.forwardAudit)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.AuditURL = srv.URL + "/audit"

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.OTLPAddr = l.Addr().String()
	gs := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(gs, r)
	go gs.Serve(l) //nolint:errcheck // returns when stopped
	t.Cleanup(gs.Stop)
	return r
}

func (r *tee) forwardAudit(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := http.NewRequestWithContext(req.Context(), http.MethodPost, r.auditTarget, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out.Header = req.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 {
		var line bytes.Buffer
		if json.Compact(&line, body) == nil {
			r.mu.Lock()
			r.batches = append(r.batches, line.Bytes())
			r.mu.Unlock()
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer) //nolint:errcheck // the apiserver retries a failed batch
}

// Export implements the OTLP trace service: forward, and keep what podtrace took.
func (r *tee) Export(ctx context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	resp, err := r.otlp.Export(ctx, req)
	if err == nil {
		if line, merr := protojson.Marshal(req); merr == nil {
			r.mu.Lock()
			r.exports = append(r.exports, line)
			r.mu.Unlock()
		}
	}
	return resp, err
}

// write writes the capture into $PODTRACE_E2E_CAPTURE, if set: audit.log
// (the apiserver's own log), audit-webhook-batches.jsonl, otlp-raw.jsonl
// and config/ (the generated audit policy and tracing configuration).
func (r *tee) write(t *testing.T, auditLog, configDir string) {
	dir := os.Getenv(captureEnv)
	if dir == "" {
		return
	}
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	copyFile := func(from, to string) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(auditLog, filepath.Join(dir, "audit.log"))
	configs, _ := filepath.Glob(filepath.Join(configDir, "*"))
	for _, f := range configs {
		if info, err := os.Stat(f); err == nil && !info.IsDir() {
			copyFile(f, filepath.Join(dir, "config", filepath.Base(f)))
		}
	}
	for name, lines := range map[string][][]byte{"audit-webhook-batches.jsonl": r.batches, "otlp-raw.jsonl": r.exports} {
		data := bytes.Join(lines, []byte("\n"))
		if len(lines) > 0 {
			data = append(data, '\n')
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("capture in %s: %d webhook batches, %d OTLP exports", dir, len(r.batches), len(r.exports))
}
