package otlp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// ForwardConfig says where a Forwarder sends requests and how many.
type ForwardConfig struct {
	// URL is the downstream OTLP endpoint: grpc://host:port (plaintext),
	// grpcs://host:port (TLS), http(s)://host:port[/path] (OTLP/HTTP
	// protobuf; the path defaults to /v1/traces), or host:port (plaintext gRPC).
	URL string
	// Sampling is the fraction of traces forwarded, decided on the trace id
	// as OpenTelemetry's TraceIdRatioBased sampler decides it, so every
	// span of a trace goes the same way. 1 forwards everything.
	Sampling float64
	// QueueSize bounds the requests waiting to be sent; beyond it requests
	// are dropped and counted, so a slow downstream never blocks receiving.
	QueueSize int
	// Timeout bounds one attempt; Retries is how often a retryable failure
	// is tried again, with exponential backoff.
	Timeout time.Duration
	Retries int
}

// DefaultForwardConfig returns the defaults (URL unset).
func DefaultForwardConfig() ForwardConfig {
	return ForwardConfig{Sampling: 1, QueueSize: 1000, Timeout: 10 * time.Second, Retries: 3}
}

// ParseEndpoint splits an OTLP endpoint URL (see ForwardConfig.URL) into
// its protocol ("grpc" or "http"), the gRPC target or HTTP URL, and whether
// it uses TLS.
func ParseEndpoint(raw string) (protocol, target string, secure bool, err error) {
	if !strings.Contains(raw, "://") {
		raw = "grpc://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", false, fmt.Errorf("endpoint %q: %w", raw, err)
	}
	if u.Host == "" {
		return "", "", false, fmt.Errorf("endpoint %q: no host", raw)
	}
	switch u.Scheme {
	case "grpc", "grpcs":
		if u.Path != "" && u.Path != "/" {
			return "", "", false, fmt.Errorf("endpoint %q: a gRPC endpoint has no path", raw)
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return "", "", false, fmt.Errorf("endpoint %q: %w", raw, err)
		}
		return "grpc", u.Host, u.Scheme == "grpcs", nil
	case "http", "https":
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		return "http", u.String(), u.Scheme == "https", nil
	}
	return "", "", false, fmt.Errorf("endpoint %q: scheme %q, want grpc, grpcs, http or https", raw, u.Scheme)
}

// ForwardStats are a Forwarder's counters.
type ForwardStats struct {
	Sent       atomic.Int64 // requests delivered
	Dropped    atomic.Int64 // requests dropped because the queue was full
	Failed     atomic.Int64 // requests given up after retries or refused for good
	SampledOut atomic.Int64 // spans left out by sampling
}

// Forwarder sends received requests on to a downstream OTLP endpoint, from
// a bounded queue, with retries.
type Forwarder struct {
	cfg    ForwardConfig
	bound  uint64 // sampling: trace ids whose low 63 bits are below pass
	send   func(ctx context.Context, pb []byte) error
	conn   *grpc.ClientConn
	log    *slog.Logger
	queue  chan []byte
	mu     sync.RWMutex // guards closed against Forward racing Close
	closed bool
	done   chan struct{}
	Stats  ForwardStats
}

// NewForwarder validates cfg and starts a forwarder. It connects lazily.
func NewForwarder(cfg ForwardConfig, log *slog.Logger) (*Forwarder, error) {
	if cfg.Sampling <= 0 || cfg.Sampling > 1 {
		return nil, fmt.Errorf("forward sampling %v: want a fraction in (0, 1]", cfg.Sampling)
	}
	if cfg.QueueSize < 1 {
		return nil, fmt.Errorf("forward queue size %d: must be positive", cfg.QueueSize)
	}
	protocol, target, secure, err := ParseEndpoint(cfg.URL)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{cfg: cfg, log: log, queue: make(chan []byte, cfg.QueueSize), done: make(chan struct{})}
	f.bound = uint64(cfg.Sampling * (1 << 63))
	switch protocol {
	case "grpc":
		creds := insecure.NewCredentials()
		if secure {
			creds = credentials.NewTLS(nil)
		}
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
		if err != nil {
			return nil, fmt.Errorf("forward to %s: %w", cfg.URL, err)
		}
		f.conn = conn
		f.send = func(ctx context.Context, pb []byte) error {
			raw := rawMessage(pb)
			var resp coltracepb.ExportTraceServiceResponse
			return f.conn.Invoke(ctx, exportMethod, &raw, &resp, grpc.ForceCodecV2(codec{}))
		}
	case "http":
		client := &http.Client{}
		f.send = func(ctx context.Context, pb []byte) error { return postHTTP(ctx, client, target, pb) }
	}
	go f.run()
	return f, nil
}

// Forward queues a protobuf request for sending. It never blocks: with the
// queue full the request is dropped and counted. pb must not change after.
func (f *Forwarder) Forward(pb []byte) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return
	}
	select {
	case f.queue <- pb:
	default:
		f.Stats.Dropped.Add(1)
	}
}

// Close sends what is queued until ctx ends, then stops.
func (f *Forwarder) Close(ctx context.Context) error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.queue)
	}
	f.mu.Unlock()
	var err error
	select {
	case <-f.done:
	case <-ctx.Done():
		err = fmt.Errorf("forwarder: %d requests not sent: %w", len(f.queue), ctx.Err())
	}
	if f.conn != nil {
		err = errors.Join(err, f.conn.Close())
	}
	return err
}

func (f *Forwarder) run() {
	defer close(f.done)
	for pb := range f.queue {
		if f.cfg.Sampling < 1 {
			var err error
			if pb, err = f.sample(pb); err != nil || pb == nil {
				continue
			}
		}
		f.deliver(pb)
	}
}

// deliver sends one request, retrying retryable failures with backoff.
func (f *Forwarder) deliver(pb []byte) {
	backoff := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), f.cfg.Timeout)
		err := f.send(ctx, pb)
		cancel()
		if err == nil {
			f.Stats.Sent.Add(1)
			return
		}
		if !retryable(err) || attempt >= f.cfg.Retries {
			f.Stats.Failed.Add(1)
			f.log.Warn("otlp forward failed", "endpoint", f.cfg.URL, "attempts", attempt+1, "err", err)
			return
		}
		time.Sleep(backoff)
		backoff *= 2
	}
}

// sample keeps the spans whose trace is sampled; nil when none is left.
func (f *Forwarder) sample(pb []byte) ([]byte, error) {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(pb, &req); err != nil {
		return nil, err
	}
	kept := 0
	rss := req.ResourceSpans[:0]
	for _, rs := range req.ResourceSpans {
		sss := rs.ScopeSpans[:0]
		for _, ss := range rs.ScopeSpans {
			spans := ss.Spans[:0]
			for _, sp := range ss.Spans {
				if f.sampled(sp.TraceId) {
					spans = append(spans, sp)
				} else {
					f.Stats.SampledOut.Add(1)
				}
			}
			if ss.Spans = spans; len(spans) > 0 {
				sss = append(sss, ss)
				kept += len(spans)
			}
		}
		if rs.ScopeSpans = sss; len(sss) > 0 {
			rss = append(rss, rs)
		}
	}
	if kept == 0 {
		return nil, nil
	}
	req.ResourceSpans = rss
	return proto.Marshal(&req)
}

func (f *Forwarder) sampled(traceID []byte) bool {
	if len(traceID) != 16 {
		return false
	}
	return binary.BigEndian.Uint64(traceID[8:16])>>1 < f.bound
}

// errRetryable marks an HTTP answer OTLP says to retry.
var errRetryable = errors.New("retryable")

func postHTTP(ctx context.Context, client *http.Client, url string, pb []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(pb))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaProtobuf)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errRetryable, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		return fmt.Errorf("%w: HTTP %d", errRetryable, resp.StatusCode)
	}
	return fmt.Errorf("HTTP %d", resp.StatusCode)
}

// retryable: the OTLP specification's retryable gRPC codes, and HTTP
// answers marked errRetryable.
func retryable(err error) bool {
	if errors.Is(err, errRetryable) {
		return true
	}
	switch status.Code(err) {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange,
		codes.Unavailable, codes.DataLoss, codes.ResourceExhausted:
		return true
	}
	return false
}
