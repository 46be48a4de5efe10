package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	"github.com/podtrace/podtrace/server"
)

// stubSpans are n finished spans as an SDK exporter is handed them.
func stubSpans(n int) []sdktrace.ReadOnlySpan {
	stubs := make(tracetest.SpanStubs, n)
	for i := range stubs {
		stubs[i].Name = "syncPod"
		stubs[i].SpanContext = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, byte(i + 1)}, SpanID: trace.SpanID{2, byte(i + 1)}})
		stubs[i].StartTime = time.Unix(1_800_000_000, 0)
		stubs[i].EndTime = stubs[i].StartTime.Add(time.Second)
	}
	return stubs.Snapshots()
}

// otlpExporter is the SDK's exporter over transport ("grpc" or "http") to
// addr, over TLS with cert (nil: none) and the headers, without retries.
func otlpExporter(t *testing.T, transport, addr string, p *pki, cert *tls.Certificate, headers map[string]string) sdktrace.SpanExporter {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.roots}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	ctx := context.Background()
	var exp sdktrace.SpanExporter
	var err error
	if transport == "grpc" {
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithTLSCredentials(credentials.NewTLS(cfg)),
			otlptracegrpc.WithHeaders(headers), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	} else {
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(addr), otlptracehttp.WithTLSClientConfig(cfg),
			otlptracehttp.WithHeaders(headers), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exp.Shutdown(ctx) })
	return exp
}

// TestOTLPSecurity: the OTLP receivers (gRPC, HTTP on their own listener and
// on http_addr) take the webhook's rules: TLS, a client certificate signed
// by the client CA, the ingest bearer token; refusals are counted. The
// OpenTelemetry SDK's exporters and telemetrygen send with TLS and headers.
func TestOTLPSecurity(t *testing.T) {
	p := newPKI(t)
	tokenFile := filepath.Join(t.TempDir(), "ingest-token")
	os.WriteFile(tokenFile, []byte("ingest-s3cret\n"), 0o600)
	s, _ := start(t, func(c *server.Config) {
		c.TLSCert, c.TLSKey, c.ClientCA, c.IngestTokenFile = p.certFile, p.keyFile, p.caFile, tokenFile
	})
	defer s.Close()
	token := map[string]string{"Authorization": "Bearer ingest-s3cret"}
	ctx := context.Background()
	accepted := 0
	for _, tr := range []struct{ transport, addr string }{{"grpc", s.OTLPGRPCAddr()}, {"http", s.OTLPHTTPAddr()}, {"http", s.Addr()}} {
		for _, c := range []struct {
			name    string
			cert    *tls.Certificate
			headers map[string]string
			ok      bool
		}{
			{"client cert and token", &p.client, token, true},
			{"client cert, wrong token", &p.client, map[string]string{"Authorization": "Bearer nope"}, false},
			{"client cert, the API's kind of basic auth", &p.client, map[string]string{"Authorization": "Basic aW5nZXN0LXMzY3JldA=="}, false},
			{"client cert, no token", &p.client, nil, false},
			{"token, no client cert", nil, token, false},
			{"token, a certificate of another CA", &p.otherClient, token, false},
		} {
			err := otlpExporter(t, tr.transport, tr.addr, p, c.cert, c.headers).ExportSpans(ctx, stubSpans(2))
			if c.ok != (err == nil) {
				t.Errorf("%s to %s (%s): %v", tr.transport, tr.addr, c.name, err)
			}
			if c.ok {
				accepted += 2
			}
		}
	}
	// telemetrygen: gRPC and HTTP over mTLS with the token, then without it
	bin := telemetrygen(t)
	tg := bin != ""
	if tg {
		for _, args := range [][]string{{"--otlp-endpoint", s.OTLPGRPCAddr()}, {"--otlp-endpoint", s.OTLPHTTPAddr(), "--otlp-http"}} {
			for _, hdr := range []string{`authorization="Bearer ingest-s3cret"`, `authorization="Bearer wrong"`} {
				cmd := exec.Command(bin, append([]string{"traces", "--traces", "10", "--workers", "1", "--rate", "0", "--service", "tg",
					"--mtls", "--ca-cert", p.caFile, "--client-cert", p.clientCertFile, "--client-key", p.clientKey, "--otlp-header", hdr}, args...)...)
				out, err := cmd.CombinedOutput()
				if strings.Contains(hdr, "ingest-s3cret") {
					if err != nil {
						t.Fatalf("telemetrygen %v: %v\n%s", args, err, out)
					}
					accepted += 20 // 10 traces of a parent and a child
				}
			}
		}
	}
	m := waitMetrics(t, s, p, fmt.Sprintf(`podtrace_otlp_spans_total{result="accepted"} %d`, accepted))
	got := parseMetrics(m)
	unauthorized := 9.0 // 3 refused tokens × 3 receivers
	if tg {
		unauthorized += 2 // telemetrygen's wrong token, over gRPC and HTTP (at least one request each)
	}
	for series, want := range map[string]float64{
		`podtrace_otlp_refused_requests_total{reason="client_cert"}`: 2, // gRPC without or with a stranger's certificate
		`podtrace_http_refused_total{reason="client_cert"}`:          4, // the same over HTTP, on both listeners
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
	if s := `podtrace_otlp_refused_requests_total{reason="unauthorized"}`; got[s] < unauthorized {
		t.Errorf("%s = %v, want at least %v", s, got[s], unauthorized)
	}
}

// telemetrygen is the OpenTelemetry load generator built by
// scripts/build-telemetrygen.sh, or "" (the test logs that it skipped it).
func telemetrygen(t *testing.T) string {
	if p := os.Getenv("PODTRACE_TELEMETRYGEN"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache/podtrace-peers/telemetrygen-v0.149.0/telemetrygen")
	if _, err := os.Stat(p); err != nil {
		t.Log("telemetrygen not built (scripts/build-telemetrygen.sh): its part skipped")
		return ""
	}
	return p
}

// waitMetrics reads /metrics over mTLS until it holds want (the pipeline
// counts spans as it joins them), or gives up after 10 s.
func waitMetrics(t *testing.T, s *server.Server, p *pki, want string) string {
	t.Helper()
	cl := p.client_(&p.client)
	var m string
	for try := 0; try < 100; try++ {
		resp, err := cl.Get("https://" + s.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m = string(b); strings.Contains(m, want) {
			return m
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("metrics lack %s", want)
	return m
}

// TestOTLPInFlightShared: the webhook and the OTLP receivers share one
// in-flight bound, counted as bytes arrive. While a webhook body holds all
// of it, OTLP requests are
// refused at once as OTLP says a retryable overload is (HTTP 503 with
// Retry-After, gRPC Unavailable), and counted; once it is released they are
// accepted.
func TestOTLPInFlightShared(t *testing.T) {
	const limit = 64 << 10
	s, _ := start(t, func(c *server.Config) {
		c.MaxBodyBytes, c.MaxInflightBytes, c.OTLPGRPCMaxMessageBytes = limit, limit, limit
	})
	defer s.Close()
	hold, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	// a chunked body: its first chunk, all of the bound, then nothing
	fmt.Fprintf(hold, "POST /audit HTTP/1.1\r\nHost: podtrace\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n{%s\r\n", limit, strings.Repeat(" ", limit-1))
	ctx := context.Background()
	newExp := func(transport string) sdktrace.SpanExporter {
		if transport == "grpc" {
			exp, _ := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.OTLPGRPCAddr()), otlptracegrpc.WithInsecure(), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
			return exp
		}
		exp, _ := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(s.OTLPHTTPAddr()), otlptracehttp.WithInsecure(), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
		return exp
	}
	// the held request holds the bound once its bytes are read
	var refused error
	for try := 0; try < 100 && refused == nil; try++ {
		refused = newExp("http").ExportSpans(ctx, stubSpans(1))
		time.Sleep(20 * time.Millisecond)
	}
	if refused == nil || !strings.Contains(refused.Error(), "retry-able") {
		hold.Close()
		t.Fatalf("HTTP while the bound is held: %v, want a retryable refusal", refused)
	}
	code, hdr := postOTLP(t, "http://"+s.OTLPHTTPAddr()+"/v1/traces")
	if code != 503 || hdr.Get("Retry-After") == "" {
		t.Errorf("HTTP while the bound is held: %d Retry-After %q", code, hdr.Get("Retry-After"))
	}
	if err := newExp("grpc").ExportSpans(ctx, stubSpans(1)); err == nil || !strings.Contains(err.Error(), "Unavailable") {
		t.Errorf("gRPC while the bound is held: %v, want Unavailable", err)
	}
	hold.Close()
	var err2 error
	for try := 0; try < 100; try++ {
		if err2 = newExp("grpc").ExportSpans(ctx, stubSpans(1)); err2 == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err2 != nil {
		t.Fatalf("gRPC once the bound is free: %v", err2)
	}
	if err := newExp("http").ExportSpans(ctx, stubSpans(1)); err != nil {
		t.Fatalf("HTTP once the bound is free: %v", err)
	}
	if n := scrape(t, "http://"+s.Addr())[`podtrace_otlp_refused_requests_total{reason="overloaded"}`]; n < 3 {
		t.Errorf("%v OTLP requests counted as overloaded, want at least 3", n)
	}
}

// postOTLP posts an empty OTLP/HTTP protobuf request.
func postOTLP(t *testing.T, url string) (int, http.Header) {
	t.Helper()
	resp, err := http.Post(url, "application/x-protobuf", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
