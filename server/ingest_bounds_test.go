package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/podtrace/podtrace/server"
)

// countingConn counts the bytes a client writes.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// bigExport is an OTLP Export request of about size bytes: one span with a
// large attribute.
func bigExport(size int) *coltracepb.ExportTraceServiceRequest {
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
		TraceId: make([]byte, 16), SpanId: make([]byte, 8), Name: "syncPod",
		Attributes: []*commonpb.KeyValue{{Key: "padding", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("x", size)}}}},
	}}}}}}}
}

// TestGRPCRefusedBeforeRead: an OTLP gRPC call without the token, without a
// client certificate, or while the in-flight bound is full is refused from
// its headers: the server reads none of its message, so the real gRPC
// client, whose bytes on the wire are counted, sends almost none of the
// 3 MiB of each of its concurrent calls (before, the server read every
// message whole first: 100 such calls took it to 3 GB).
func TestGRPCRefusedBeforeRead(t *testing.T) {
	p := newPKI(t)
	tokenFile := filepath.Join(t.TempDir(), "ingest-token")
	os.WriteFile(tokenFile, []byte("ingest-s3cret\n"), 0o600)
	const msg, calls = 3 << 20, 8
	req := bigExport(msg)
	for _, c := range []struct {
		name string
		mod  func(*server.Config)
		tls  *tls.Certificate // nil: no client certificate
		auth bool             // send the token
		hold int              // bytes of a webhook body held first
		want codes.Code
	}{
		{"no token", func(c *server.Config) { c.IngestTokenFile = tokenFile }, nil, false, 0, codes.Unauthenticated},
		{"mTLS without a client certificate", func(c *server.Config) {
			c.TLSCert, c.TLSKey, c.ClientCA = p.certFile, p.keyFile, p.caFile
		}, nil, true, 0, codes.Unauthenticated},
		{"in-flight bound full", func(c *server.Config) {
			c.MaxBodyBytes, c.MaxInflightBytes, c.OTLPGRPCMaxMessageBytes = 8<<20, 8<<20, 4<<20
		}, nil, true, 5 << 20, codes.Unavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := start(t, c.mod)
			defer s.Close()
			if c.hold > 0 {
				defer holdBody(t, s, c.hold).Close() // before the server closes
			}
			var wrote atomic.Int64
			creds := insecure.NewCredentials()
			if strings.Contains(c.name, "mTLS") {
				creds = credentials.NewTLS(&tls.Config{RootCAs: p.roots})
			}
			conn, err := grpc.NewClient(s.OTLPGRPCAddr(), grpc.WithTransportCredentials(creds),
				grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
					nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
					return countingConn{nc, &wrote}, err
				}))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx := context.Background()
			if c.auth {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer ingest-s3cret")
			}
			var wg sync.WaitGroup
			errs := make([]error, calls)
			for i := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = coltracepb.NewTraceServiceClient(conn).Export(ctx, req)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if status.Code(err) != c.want {
					t.Fatalf("call: %v, want %v", err, c.want)
				}
			}
			if n := wrote.Load(); n > calls*msg/4 {
				t.Errorf("the client sent %d bytes of %d calls of %d bytes: the server read refused messages", n, calls, msg)
			}
		})
	}
}

// holdBody starts a webhook request whose chunked body sends n bytes and
// then nothing, and returns its connection once the server holds them.
func holdBody(t *testing.T, s *server.Server, n int) net.Conn {
	t.Helper()
	hold, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(hold, "POST /audit HTTP/1.1\r\nHost: podtrace\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n{%s\r\n", n, strings.Repeat(" ", n-1))
	for try := 0; try < 200; try++ {
		if used := scrape(t, "http://"+s.Addr())["podtrace_inflight_bytes"]; used >= float64(n) {
			return hold
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the server never held the %d bytes sent", n)
	return nil
}

// TestSlowBodiesDoNotStarveIngest: two clients declaring 32 MiB bodies and
// sending one byte hold one byte each of the in-flight bound, not 32 MiB:
// webhook batches and OTLP requests go on being accepted (before, the
// declared lengths filled the 64 MiB bound and everything else got 503 for
// as long as they were held).
func TestSlowBodiesDoNotStarveIngest(t *testing.T) {
	s, _ := start(t, func(c *server.Config) { c.ReadBodyTimeout, c.MinBodyRate = time.Hour, 1 })
	defer s.Close()
	for range 2 {
		slow, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		fmt.Fprintf(slow, "POST /audit HTTP/1.1\r\nHost: podtrace\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 32<<20)
	}
	// both reached the webhook
	for try := 0; scrape(t, "http://"+s.Addr())["podtrace_webhook_requests_total"] < 2; try++ {
		if try == 200 {
			t.Fatal("the slow requests never reached the webhook")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, msg := post(t, "http://"+s.Addr()+"/audit", batches(t)[13], nil); code != http.StatusOK {
		t.Errorf("webhook batch while two slow bodies are held: %d %s", code, msg)
	}
	if code, _ := postOTLP(t, "http://"+s.OTLPHTTPAddr()+"/v1/traces"); code != http.StatusOK {
		t.Errorf("OTLP request while two slow bodies are held: %d", code)
	}
	conn, err := grpc.NewClient(s.OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := coltracepb.NewTraceServiceClient(conn).Export(context.Background(), bigExport(1<<20)); err != nil {
		t.Errorf("OTLP gRPC call while two slow bodies are held: %v", err)
	}
}

// TestSlowBodyDropped: a body behind its pace (n bytes by read_body_timeout
// + n/min_body_rate) is answered 408, its connection dropped, and counted.
func TestSlowBodyDropped(t *testing.T) {
	s, _ := start(t, func(c *server.Config) { c.ReadBodyTimeout, c.MinBodyRate = 100*time.Millisecond, 1<<20 })
	defer s.Close()
	for _, url := range []string{s.Addr(), s.OTLPHTTPAddr()} {
		slow, err := net.Dial("tcp", url)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		path, ct := "/audit", "application/json"
		if url == s.OTLPHTTPAddr() {
			path, ct = "/v1/traces", "application/x-protobuf"
		}
		fmt.Fprintf(slow, "POST %s HTTP/1.1\r\nHost: podtrace\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n{", path, ct, 32<<20)
		slow.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound on the test, not what it checks
		resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("%s: a body behind its pace got %d, want 408", path, resp.StatusCode)
		}
	}
	m := scrape(t, "http://"+s.Addr())
	if m[`podtrace_webhook_rejected_total{reason="slow_body"}`] != 1 || m[`podtrace_otlp_refused_requests_total{reason="slow_body"}`] != 1 {
		t.Errorf("slow bodies not counted: webhook %v, OTLP %v", m[`podtrace_webhook_rejected_total{reason="slow_body"}`], m[`podtrace_otlp_refused_requests_total{reason="slow_body"}`])
	}
}

// TestIdleConnectionsClosed: a keep-alive connection left idle is closed
// after idle_timeout (before, idle connections were kept for ever, and
// enough of them took every file descriptor).
func TestIdleConnectionsClosed(t *testing.T) {
	s, _ := start(t, func(c *server.Config) { c.IdleTimeout = 200 * time.Millisecond })
	defer s.Close()
	for _, addr := range []string{s.Addr(), s.OTLPHTTPAddr()} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: podtrace\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound on the test, not what it checks
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("%s: an idle keep-alive connection: %v, want closed by the server (EOF)", addr, err)
		}
	}
}
