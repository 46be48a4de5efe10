package otlp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/podtrace/podtrace/otlp"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// got is a span as a recorder keeps it.
type got struct {
	service, name, traceID, auditID, podUID string
}

// recorder is a Consumer that keeps copies, or refuses with err.
type recorder struct {
	mu    sync.Mutex
	spans []got
	err   error
}

func (r *recorder) ConsumeSpans(_ context.Context, spans []otlp.Span) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	for _, s := range spans {
		r.spans = append(r.spans, got{string(s.Service), string(s.Name), hex.EncodeToString(s.TraceID[:]), string(s.Attrs.AuditID), string(s.Attrs.PodUID)})
	}
	return nil
}

func (r *recorder) all() []got {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]got(nil), r.spans...)
}

// waitFor waits until the recorder holds n spans.
func (r *recorder) waitFor(t *testing.T, n int) []got {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := r.all()
		if len(s) >= n || time.Now().After(deadline) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serve starts a receiver on real loopback listeners: gRPC and HTTP.
func serve(t testing.TB, opts otlp.Options, c otlp.Consumer, fwd *otlp.Forwarder) (r *otlp.Receiver, grpcAddr, httpURL string) {
	t.Helper()
	r = otlp.NewReceiver(opts, c, fwd, quiet())
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := r.GRPCServer()
	go gs.Serve(gl)
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/traces", r)
	hs := &http.Server{Handler: mux}
	go hs.Serve(hl)
	t.Cleanup(func() { gs.Stop(); hs.Close() })
	return r, gl.Addr().String(), "http://" + hl.Addr().String() + "/v1/traces"
}

// The OpenTelemetry Go SDK's own OTLP exporters, gRPC and HTTP, with and
// without gzip, deliver their spans to the receiver.
func TestSDKExporters(t *testing.T) {
	rec := &recorder{}
	_, grpcAddr, httpURL := serve(t, otlp.DefaultOptions(), rec, nil)
	ctx := context.Background()
	exporters := map[string]func() (sdktrace.SpanExporter, error){
		"grpc": func() (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
		},
		"grpc+gzip": func() (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip"))
		},
		"http": func() (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(httpURL), otlptracehttp.WithCompression(otlptracehttp.NoCompression))
		},
		"http+gzip": func() (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(httpURL), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		},
	}
	want := 0
	for name, newExp := range exporters {
		exp, err := newExp()
		if err != nil {
			t.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "kubelet"))))
		tr := tp.Tracer("test")
		for i := 0; i < 50; i++ {
			_, s := tr.Start(ctx, "syncPod")
			s.SetAttributes(attribute.String("k8s.pod.uid", name+"-"+strconv.Itoa(i)), attribute.String("audit-id", name))
			s.End()
		}
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want += 50
	}
	spans := rec.waitFor(t, want)
	if len(spans) != want {
		t.Fatalf("received %d spans, want %d", len(spans), want)
	}
	per := map[string]int{}
	for _, s := range spans {
		if s.service != "kubelet" || s.name != "syncPod" || s.podUID == "" {
			t.Fatalf("span %+v", s)
		}
		per[s.auditID]++
	}
	for name := range exporters {
		if per[name] != 50 {
			t.Errorf("%s: %d spans, want 50", name, per[name])
		}
	}
}

// telemetrygen is the OpenTelemetry load generator, built by
// scripts/build-telemetrygen.sh.
func telemetrygen(t testing.TB) string {
	if p := os.Getenv("PODTRACE_TELEMETRYGEN"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache/podtrace-peers/telemetrygen-v0.149.0/telemetrygen")
	if _, err := os.Stat(p); err != nil {
		t.Skip("telemetrygen not built: run scripts/build-telemetrygen.sh (or set PODTRACE_TELEMETRYGEN)")
	}
	return p
}

func TestTelemetrygen(t *testing.T) {
	bin := telemetrygen(t)
	rec := &recorder{}
	_, grpcAddr, httpURL := serve(t, otlp.DefaultOptions(), rec, nil)
	hostPort := httpURL[len("http://") : len(httpURL)-len("/v1/traces")]
	for _, args := range [][]string{
		{"--otlp-endpoint", grpcAddr},
		{"--otlp-endpoint", hostPort, "--otlp-http"},
	} {
		cmd := exec.Command(bin, append([]string{"traces", "--otlp-insecure", "--traces", "100", "--workers", "2", "--rate", "0", "--service", "tg"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("telemetrygen %v: %v\n%s", args, err, out)
		}
	}
	// 2 workers × 100 traces × (parent + 1 child) × 2 transports
	spans := rec.waitFor(t, 800)
	if len(spans) != 800 {
		t.Fatalf("received %d spans, want 800", len(spans))
	}
	for _, s := range spans {
		if s.service != "tg" {
			t.Fatalf("span %+v", s)
		}
	}
}

func post(t *testing.T, url, contentType, encoding string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// request is a valid request of n spans; bad of them get a short trace id.
func request(n, bad int) []byte {
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{}}}}}
	for i := 0; i < n; i++ {
		tid := bytes.Repeat([]byte{byte(i + 1)}, 16)
		if i < bad {
			tid = tid[:4]
		}
		req.ResourceSpans[0].ScopeSpans[0].Spans = append(req.ResourceSpans[0].ScopeSpans[0].Spans,
			&tracepb.Span{TraceId: tid, SpanId: bytes.Repeat([]byte{9}, 8), Name: "s"})
	}
	b, _ := proto.Marshal(req)
	return b
}

// OTLP/HTTP answers as the specification says: partial success, 400 with a
// Status for bad data, 415, 413, 405, and 503 with Retry-After when the
// consumer is overloaded.
func TestHTTPResponses(t *testing.T) {
	rec := &recorder{}
	opts := otlp.DefaultOptions()
	opts.MaxBytes = 64 << 10
	r, _, url := serve(t, opts, rec, nil)

	resp, body := post(t, url, "application/x-protobuf", "", request(3, 1))
	var ok coltracepb.ExportTraceServiceResponse
	if resp.StatusCode != 200 || proto.Unmarshal(body, &ok) != nil || ok.GetPartialSuccess().GetRejectedSpans() != 1 {
		t.Fatalf("partial success: %d %v", resp.StatusCode, &ok)
	}
	resp, body = post(t, url, "application/json", "gzip", gz([]byte(`{"resourceSpans":[]}`)))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || protojson.Unmarshal(body, &ok) != nil {
		t.Fatalf("json: %d %q", resp.StatusCode, body)
	}

	huge := bytes.Repeat([]byte{' '}, 1<<20) // compresses below the limit, decompresses above
	for _, c := range []struct {
		name, method, ctype, enc string
		body                     []byte
		code                     int
		grpc                     codes.Code
	}{
		{"malformed protobuf", "POST", "application/x-protobuf", "", []byte{0x0a, 0x05, 0x01}, 400, codes.InvalidArgument},
		{"malformed json", "POST", "application/json", "", []byte(`{"resourceSpans":`), 400, codes.InvalidArgument},
		{"bad gzip", "POST", "application/x-protobuf", "gzip", []byte("not gzip"), 400, codes.InvalidArgument},
		{"content type", "POST", "text/plain", "", []byte("x"), 415, codes.InvalidArgument},
		{"encoding", "POST", "application/x-protobuf", "br", []byte("x"), 415, codes.InvalidArgument},
		{"too large", "POST", "application/x-protobuf", "", make([]byte, 65<<10), 413, codes.ResourceExhausted},
		{"too large decompressed", "POST", "application/json", "gzip", gz(huge), 413, codes.ResourceExhausted},
		{"method", "GET", "application/x-protobuf", "", nil, 405, codes.Unimplemented},
	} {
		req, _ := http.NewRequest(c.method, url, bytes.NewReader(c.body))
		req.Header.Set("Content-Type", c.ctype)
		req.Header.Set("Content-Encoding", c.enc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.code)
			continue
		}
		var st statuspb.Status
		if c.ctype == "application/json" {
			err = protojson.Unmarshal(body, &st)
		} else {
			err = proto.Unmarshal(body, &st)
		}
		if c.code != 415 && (err != nil || codes.Code(st.Code) != c.grpc || st.Message == "") {
			t.Errorf("%s: Status body %q: %v %v", c.name, body, &st, err)
		}
	}

	rec.mu.Lock()
	rec.err = otlp.ErrOverloaded
	rec.mu.Unlock()
	resp, _ = post(t, url, "application/x-protobuf", "", request(1, 0))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("overloaded: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	rec.mu.Lock()
	rec.err = errors.New("disk on fire")
	rec.mu.Unlock()
	resp, body = post(t, url, "application/x-protobuf", "", request(1, 0))
	if resp.StatusCode != http.StatusServiceUnavailable || bytes.Contains(body, []byte("fire")) {
		t.Fatalf("consumer failure: %d %q (internal details must not reach clients)", resp.StatusCode, body)
	}
	fails := r.Stats.FailureCounts()
	if fails["malformed"] != 3 || fails["too_large"] != 2 || fails["unsupported_media"] != 2 || fails["method"] != 1 ||
		fails["overloaded"] != 1 || fails["unavailable"] != 1 || r.Stats.Rejected.Load() != 1 {
		t.Fatalf("failures %v, rejected %d", fails, r.Stats.Rejected.Load())
	}
}

func TestGRPCResponses(t *testing.T) {
	rec := &recorder{}
	_, addr, _ := serve(t, otlp.DefaultOptions(), rec, nil)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := coltracepb.NewTraceServiceClient(conn)
	ctx := context.Background()

	var req coltracepb.ExportTraceServiceRequest
	proto.Unmarshal(request(4, 2), &req)
	resp, err := client.Export(ctx, &req)
	if err != nil || resp.GetPartialSuccess().GetRejectedSpans() != 2 {
		t.Fatalf("partial success: %v %v", resp, err)
	}
	if n := len(rec.all()); n != 2 {
		t.Fatalf("%d spans accepted, want 2", n)
	}
	// malformed: a raw invocation with bytes that are not a request
	raw := &coltracepb.ExportTraceServiceRequest{}
	raw.ProtoReflect().SetUnknown([]byte{0x0a, 0x05, 0x01})
	if _, err := client.Export(ctx, raw); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("malformed: %v, want InvalidArgument", err)
	}
	rec.mu.Lock()
	rec.err = otlp.ErrOverloaded
	rec.mu.Unlock()
	_, err = client.Export(ctx, &req)
	st := status.Convert(err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("overloaded: %v, want Unavailable", err)
	}
	retry := false
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.RetryDelay.AsDuration() == time.Second {
			retry = true
		}
	}
	if !retry {
		t.Fatalf("overloaded: no RetryInfo in %v", st.Details())
	}
}

// FuzzHTTPHandler: whatever a client sends, the handler answers with one of
// the statuses OTLP defines and never panics.
func FuzzHTTPHandler(f *testing.F) {
	lines, err := os.ReadFile("../testdata/mixed-kwok-hollowkubelet-v1.34.10/otlp-raw.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	first := lines[:bytes.IndexByte(lines, '\n')]
	pb, err := otlp.JSONToProto(first)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), false, pb)
	f.Add(uint8(1), false, first)
	f.Add(uint8(1), true, gz(first))
	f.Add(uint8(2), false, []byte("x"))
	opts := otlp.DefaultOptions()
	opts.MaxBytes = 1 << 20
	r := otlp.NewReceiver(opts, otlp.ConsumerFunc(func(context.Context, []otlp.Span) error { return nil }), nil, quiet())
	f.Fuzz(func(t *testing.T, ctype uint8, gzipped bool, body []byte) {
		req, _ := http.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", []string{"application/x-protobuf", "application/json", "text/plain"}[ctype%3])
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
		w := &responseRecorder{header: http.Header{}}
		r.ServeHTTP(w, req)
		switch w.code {
		case 200, 400, 413, 415:
		default:
			t.Fatalf("status %d", w.code)
		}
	})
}

type responseRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *responseRecorder) Header() http.Header         { return w.header }
func (w *responseRecorder) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *responseRecorder) WriteHeader(code int)        { w.code = code }
