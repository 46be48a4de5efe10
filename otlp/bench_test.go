package otlp_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
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
