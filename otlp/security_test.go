package otlp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/podtrace/podtrace/inflight"
	"github.com/podtrace/podtrace/otlp"
)

// spans are n finished spans as an SDK exporter is handed them.
func spans(n int) []sdktrace.ReadOnlySpan {
	stubs := make(tracetest.SpanStubs, n)
	for i := range stubs {
		stubs[i].Name = "syncPod"
		stubs[i].SpanContext = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, byte(i + 1)}, SpanID: trace.SpanID{2, byte(i + 1)}})
		stubs[i].StartTime = time.Unix(1_800_000_000, 0)
		stubs[i].EndTime = stubs[i].StartTime.Add(time.Second)
	}
	return stubs.Snapshots()
}

// exporters returns the SDK's gRPC and HTTP exporters to the receiver,
// sending headers, without retries (a refusal is reported at once).
func exporters(t *testing.T, grpcAddr, httpURL string, headers map[string]string) map[string]sdktrace.SpanExporter {
	t.Helper()
	ctx := context.Background()
	g, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(), otlptracegrpc.WithHeaders(headers),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	h, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(httpURL), otlptracehttp.WithHeaders(headers),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Shutdown(ctx); h.Shutdown(ctx) })
	return map[string]sdktrace.SpanExporter{"grpc": g, "http": h}
}

// TestToken: with a token set, the SDK exporters are refused without it or
// with another (HTTP 401, gRPC Unauthenticated: not retried) and accepted
// with it; refusals are counted.
func TestToken(t *testing.T) {
	rec := &recorder{}
	opts := otlp.DefaultOptions()
	opts.Token = "s3cret"
	r, grpcAddr, httpURL := serve(t, opts, rec, nil)
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		headers map[string]string
		ok      bool
	}{
		{"no token", nil, false},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, false},
		{"not a bearer token", map[string]string{"Authorization": "s3cret"}, false},
		{"the token", map[string]string{"Authorization": "Bearer s3cret"}, true},
	} {
		for transport, exp := range exporters(t, grpcAddr, httpURL, c.headers) {
			err := exp.ExportSpans(ctx, spans(3))
			if c.ok != (err == nil) {
				t.Errorf("%s over %s: %v", c.name, transport, err)
			}
			if err != nil && transport == "grpc" && status.Code(err) != codes.Unauthenticated && !strings.Contains(err.Error(), "Unauthenticated") {
				t.Errorf("%s over gRPC: %v, want Unauthenticated", c.name, err)
			}
			if err != nil && transport == "http" && !strings.Contains(err.Error(), "401") {
				t.Errorf("%s over HTTP: %v, want 401", c.name, err)
			}
		}
	}
	if n := len(rec.all()); n != 6 {
		t.Errorf("%d spans accepted, want 6", n)
	}
	if n := r.Stats.FailureCounts()["unauthorized"]; n != 6 {
		t.Errorf("%d refusals counted, want 6", n)
	}
	// the refusal's body is a Status, in the request's encoding
	resp, body := post(t, httpURL, "application/x-protobuf", "", request(1, 0))
	var st statuspb.Status
	if resp.StatusCode != 401 || proto.Unmarshal(body, &st) != nil || codes.Code(st.Code) != codes.Unauthenticated ||
		!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401: %d %v %q", resp.StatusCode, &st, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestInFlight: a request that does not fit the in-flight bound is refused
// at once as retryable (HTTP 503 with Retry-After, gRPC Unavailable with
// RetryInfo), counted as overloaded; what is reserved is released.
func TestInFlight(t *testing.T) {
	rec := &recorder{}
	opts := otlp.DefaultOptions()
	lim := inflight.New(opts.MaxBytes)
	opts.InFlight = lim
	r, grpcAddr, httpURL := serve(t, opts, rec, nil)
	ctx := context.Background()
	exps := exporters(t, grpcAddr, httpURL, nil)
	for transport, exp := range exps {
		if err := exp.ExportSpans(ctx, spans(2)); err != nil {
			t.Fatalf("%s: %v", transport, err)
		}
	}
	if !lim.Acquire(opts.MaxBytes) {
		t.Fatalf("%d bytes still held after the requests", lim.Used())
	}
	for transport, exp := range exps {
		if err := exp.ExportSpans(ctx, spans(2)); err == nil {
			t.Errorf("%s: accepted over the bound", transport)
		}
	}
	resp, body := post(t, httpURL, "application/x-protobuf", "", request(1, 0))
	var st statuspb.Status
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || proto.Unmarshal(body, &st) != nil || codes.Code(st.Code) != codes.Unavailable {
		t.Errorf("HTTP over the bound: %d Retry-After %q %v", resp.StatusCode, resp.Header.Get("Retry-After"), &st)
	}
	err := exportGRPC(t, grpcAddr)
	s := status.Convert(err)
	retry := false
	for _, d := range s.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			retry = true
		}
	}
	if s.Code() != codes.Unavailable || !retry {
		t.Errorf("gRPC over the bound: %v (RetryInfo %v)", err, retry)
	}
	if lim.Release(opts.MaxBytes); lim.Used() != 0 {
		t.Errorf("%d bytes still held after the requests", lim.Used())
	}
	if n := r.Stats.FailureCounts()["overloaded"]; n != 4 {
		t.Errorf("%d refusals counted as overloaded, want 4", n)
	}
	if n := len(rec.all()); n != 4 {
		t.Errorf("%d spans accepted, want 4", n)
	}
}

// exportGRPC sends one request with a plain gRPC client, which reports the
// status details the SDK exporter hides.
func exportGRPC(t *testing.T, addr string) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(request(1, 0), &req); err != nil {
		t.Fatal(err)
	}
	_, err = coltracepb.NewTraceServiceClient(conn).Export(context.Background(), &req)
	return err
}
