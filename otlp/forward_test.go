package otlp_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/podtrace/podtrace/otlp"
)

// send sends n traces of 3 spans with the SDK's gRPC exporter.
func send(t *testing.T, addr string, n int) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "apiserver"))))
	tr := tp.Tracer("test")
	for i := 0; i < n; i++ {
		c, root := tr.Start(ctx, "POST /api/v1/namespaces/{:namespace}/pods")
		for j := 0; j < 2; j++ {
			_, s := tr.Start(c, "child")
			s.End()
		}
		root.End()
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// podtrace forwards what it receives to a second, real OTLP receiver, over
// gRPC and HTTP; every span arrives, unchanged.
func TestForward(t *testing.T) {
	for _, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			down := &recorder{}
			_, downGRPC, downHTTP := serve(t, otlp.DefaultOptions(), down, nil)
			cfg := otlp.DefaultForwardConfig()
			cfg.URL = "grpc://" + downGRPC
			if proto == "http" {
				cfg.URL = downHTTP
			}
			fwd, err := otlp.NewForwarder(cfg, quiet())
			if err != nil {
				t.Fatal(err)
			}
			up := &recorder{}
			_, upGRPC, _ := serve(t, otlp.DefaultOptions(), up, fwd)
			send(t, upGRPC, 40)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := fwd.Close(ctx); err != nil {
				t.Fatal(err)
			}
			forwarded, want := down.waitFor(t, 120), up.all()
			if len(want) != 120 || len(forwarded) != 120 {
				t.Fatalf("received %d, forwarded %d, want 120 each", len(want), len(forwarded))
			}
			seen := map[got]bool{}
			for _, s := range want {
				seen[s] = true
			}
			for _, s := range forwarded {
				if !seen[s] {
					t.Fatalf("forwarded span %+v was not received", s)
				}
			}
			if fwd.Stats.Sent.Load() == 0 || fwd.Stats.Failed.Load() != 0 || fwd.Stats.Dropped.Load() != 0 {
				t.Fatalf("forward stats: sent %d failed %d dropped %d", fwd.Stats.Sent.Load(), fwd.Stats.Failed.Load(), fwd.Stats.Dropped.Load())
			}
		})
	}
}

// Sampled forwarding keeps whole traces, chosen by trace id as the SDK's
// TraceIdRatioBased sampler chooses them.
func TestForwardSampled(t *testing.T) {
	down := &recorder{}
	_, downGRPC, _ := serve(t, otlp.DefaultOptions(), down, nil)
	cfg := otlp.DefaultForwardConfig()
	cfg.URL, cfg.Sampling = downGRPC, 0.25
	fwd, err := otlp.NewForwarder(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	up := &recorder{}
	_, upGRPC, _ := serve(t, otlp.DefaultOptions(), up, fwd)
	send(t, upGRPC, 200)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fwd.Close(ctx); err != nil {
		t.Fatal(err)
	}
	bound := uint64(0.25 * (1 << 63))
	wantTraces := map[string]bool{}
	for _, s := range up.all() {
		raw, _ := hex.DecodeString(s.traceID)
		if binary.BigEndian.Uint64(raw[8:])>>1 < bound {
			wantTraces[s.traceID] = true
		}
	}
	spans := down.all()
	per := map[string]int{}
	for _, s := range spans {
		if !wantTraces[s.traceID] {
			t.Fatalf("trace %s forwarded, not sampled", s.traceID)
		}
		per[s.traceID]++
	}
	for id := range wantTraces {
		if per[id] != 3 {
			t.Fatalf("sampled trace %s: %d of its 3 spans forwarded", id, per[id])
		}
	}
	if len(wantTraces) < 20 || len(wantTraces) > 80 {
		t.Fatalf("%d of 200 traces sampled at 0.25", len(wantTraces))
	}
	if got := fwd.Stats.SampledOut.Load(); got != int64(600-3*len(wantTraces)) {
		t.Fatalf("sampled out %d spans, want %d", got, 600-3*len(wantTraces))
	}
}

// A downstream that does not answer never blocks receiving: the bounded
// queue drops, and counts, what does not fit.
func TestForwardStalled(t *testing.T) {
	cfg := otlp.DefaultForwardConfig()
	cfg.URL, cfg.QueueSize, cfg.Timeout, cfg.Retries = "http://127.0.0.1:1/v1/traces", 2, 100*time.Millisecond, 0
	fwd, err := otlp.NewForwarder(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < 50; i++ {
		fwd.Forward(request(1, 0))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Forward blocked for %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fwd.Close(ctx)
	if fwd.Stats.Dropped.Load() == 0 || fwd.Stats.Failed.Load() == 0 || fwd.Stats.Sent.Load() != 0 {
		t.Fatalf("dropped %d failed %d sent %d", fwd.Stats.Dropped.Load(), fwd.Stats.Failed.Load(), fwd.Stats.Sent.Load())
	}
}

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string][3]string{
		"127.0.0.1:4317":        {"grpc", "127.0.0.1:4317", "false"},
		"grpc://collector:4317": {"grpc", "collector:4317", "false"},
		"grpcs://collector:443": {"grpc", "collector:443", "true"},
		"http://jaeger:4318":    {"http", "http://jaeger:4318/v1/traces", "false"},
		"https://x/otlp/traces": {"http", "https://x/otlp/traces", "true"},
	} {
		p, target, secure, err := otlp.ParseEndpoint(in)
		if err != nil || p != want[0] || target != want[1] || (secure != (want[2] == "true")) {
			t.Errorf("%s: %s %s %v %v", in, p, target, secure, err)
		}
	}
	for _, bad := range []string{"ftp://x:1", "grpc://x:1/path", "http://", "::::"} {
		if _, _, _, err := otlp.ParseEndpoint(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
