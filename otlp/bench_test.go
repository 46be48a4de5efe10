package otlp_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/podtrace/podtrace/otlp"
)

// BenchmarkReceiveGRPC: the capture's requests sent over loopback gRPC with
// the generated client, received and decoded; spans/s is the figure to
// compare with an OpenTelemetry Collector (bench/otlp.sh does so with
// telemetrygen).
func BenchmarkReceiveGRPC(b *testing.B) {
	raw, err := os.ReadFile("../testdata/mixed-kwok-hollowkubelet-v1.34.10/otlp-raw.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	var reqs []*coltracepb.ExportTraceServiceRequest
	var size, spans int64
	for _, line := range lines {
		pb, err := otlp.JSONToProto(line)
		if err != nil {
			b.Fatal(err)
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(pb, &req); err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, &req)
		size += int64(len(pb))
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans += int64(len(ss.Spans))
			}
		}
	}
	nop := otlp.ConsumerFunc(func(context.Context, []otlp.Span) error { return nil })
	_, addr, _ := serve(b, otlp.DefaultOptions(), nop, nil)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := coltracepb.NewTraceServiceClient(conn)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for _, req := range reqs {
				if _, err := client.Export(context.Background(), req); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	b.ReportMetric(float64(spans)*float64(b.N)/time.Since(start).Seconds(), "spans/s")
}

// rawCodec sends requests already encoded and ignores responses.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}
func (rawCodec) Unmarshal(mem.BufferSlice, any) error { return nil }

// BenchmarkLoad sends the capture's requests (real kube-apiserver and
// kubelet spans), encoded once, as fast as 16 clients can to the OTLP/gRPC
// endpoint in OTLP_LOAD_ENDPOINT — podtrace or an OpenTelemetry Collector
// alike; bench/otlp.sh runs it against both. Unlike telemetrygen it spends
// nothing on making spans, so the receiver is the bottleneck.
func BenchmarkLoad(b *testing.B) {
	ep := os.Getenv("OTLP_LOAD_ENDPOINT")
	if ep == "" {
		b.Skip("OTLP_LOAD_ENDPOINT not set (bench/otlp.sh sets it)")
	}
	raw, err := os.ReadFile("../testdata/mixed-kwok-hollowkubelet-v1.34.10/otlp-raw.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	var reqs [][]byte
	var spans []int
	var d otlp.Decoder
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		pb, err := otlp.JSONToProto(line)
		if err != nil {
			b.Fatal(err)
		}
		s, _, err := d.Decode(pb)
		if err != nil {
			b.Fatal(err)
		}
		reqs, spans = append(reqs, pb), append(spans, len(s))
	}
	conn, err := grpc.NewClient(ep, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var sent atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(reqs))
		for pb.Next() {
			i = (i + 1) % len(reqs)
			var resp []byte
			if err := conn.Invoke(context.Background(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &reqs[i], &resp); err != nil {
				b.Error(err)
				return
			}
			sent.Add(int64(spans[i]))
		}
	})
	b.ReportMetric(float64(sent.Load())/time.Since(start).Seconds(), "spans/s")
}
