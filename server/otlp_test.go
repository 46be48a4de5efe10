package server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/server"
	"github.com/podtrace/podtrace/sqlite"
)

const mixed = "../testdata/mixed-kwok-hollowkubelet-v1.34.10/"

func TestOTLPConfigErrors(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.OTLPGRPCAddr, cfg.OTLPHTTPAddr = "nope", "also nope"
	cfg.OTLPForward, cfg.OTLPExport = "ftp://x:1", "grpc://x:1/path"
	cfg.OTLPForwardSampling, cfg.OTLPExportDelay, cfg.MaxSpansPerPod = 1.5, -time.Second, 0
	err := cfg.Validate()
	for _, key := range []string{"otlp_grpc_addr", "otlp_http_addr", "otlp_forward:", "otlp_export:", "otlp_forward_sampling", "otlp_export_delay", "max_spans_per_pod"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error lacks %s: %v", key, err)
		}
	}
	cfg = server.DefaultConfig()
	cfg.OTLPGRPCAddr, cfg.OTLPHTTPAddr = "", "" // off
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func postLines(t *testing.T, url, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		resp, err := http.Post(url, "application/json", bytes.NewReader(sc.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", url, resp.StatusCode, body)
		}
	}
}

// podtrace serve joins the spans it receives — OTLP/HTTP on its own
// listener and on http_addr, OTLP/gRPC from the SDK's exporter — to the pods
// of the audit events it receives, and counts them in /metrics.
func TestServeOTLP(t *testing.T) {
	s, db := start(t, func(c *server.Config) { c.Cluster = "mixed" })
	postLines(t, "http://"+s.Addr()+"/audit", mixed+"audit-webhook-batches.jsonl")
	postLines(t, "http://"+s.OTLPHTTPAddr()+"/v1/traces", mixed+"otlp-raw.jsonl")

	// a syncPod span over gRPC, as a kubelet sends it, for demo/web-5f6b554666-q964m
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.OTLPGRPCAddr()), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "kubelet"))))
	at := time.Date(2026, 11, 21, 20, 48, 39, 300_000_000, time.UTC) // while the pod was being created
	_, sp := tp.Tracer("k8s.io/kubernetes/pkg/kubelet").Start(ctx, "syncPod", trace.WithTimestamp(at))
	sp.SetAttributes(attribute.String("k8s.pod.uid", "be9079fa-4074-4bef-a96b-56092fd24411"), attribute.String("k8s.pod.update_type", "create"))
	sp.End(trace.WithTimestamp(at.Add(time.Second)))
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// and the same kind of request on http_addr
	resp, err := http.Post("http://"+s.Addr()+"/v1/traces", "application/json", strings.NewReader(`{"resourceSpans":[]}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces on http_addr: %v %v", resp, err)
	}
	resp.Body.Close()

	resp, err = http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`podtrace_otlp_requests_total{transport="grpc"} 1`, `podtrace_apiserver_requests_total{code="201",resource="pods",subresource="binding",verb="POST"} 10`,
		`podtrace_kubelet_sync_pod_total{result="success"} 15`, `podtrace_component_spans_total{result="noise"}`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, _, err := st.Records(ctx, podtrace.RecordFilter{Name: "web-5f6b554666-q964m", Kind: podtrace.KindCreate})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	syncs := 0
	for _, sp := range recs[0].Spans {
		if sp.Name == "syncPod" {
			syncs++
		}
	}
	if syncs != 3 { // two from the capture, one over gRPC
		t.Fatalf("%d syncPod spans joined, want 3: %+v", syncs, recs[0].Spans)
	}
	if recs[0].TraceID == nil || *recs[0].TraceID != podtrace.TraceIDHex("mixed", recs[0].UID, podtrace.KindCreate, 0) {
		t.Fatalf("trace id %v", recs[0].TraceID)
	}
}
