package traceexport_test

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/auditfile"
	"github.com/podtrace/podtrace/correlate"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/otlp"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/traceexport"
)

const mixed = "../testdata/mixed-kwok-hollowkubelet-v1.34.10/"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// backend is an OTLP gRPC trace backend built on the generated service: it
// keeps every span it receives with its resource, or, when stalled, never
// answers.
type backend struct {
	coltracepb.UnimplementedTraceServiceServer
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
	stalled  chan struct{}
}

func (b *backend) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	if b.stalled != nil {
		select {
		case <-b.stalled:
		case <-ctx.Done():
		}
		return nil, ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		svc := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				svc = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				b.spans = append(b.spans, s)
				b.services = append(b.services, svc)
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func startBackend(t *testing.T, b *backend) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(s, b)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return "grpc://" + ln.Addr().String()
}

// pipeline replays the capture (audit log, then spans) through a real
// pipeline whose closed deliveries go to e; it returns the store's records.
func pipeline(t *testing.T, newExporter func(st podtrace.Store) *traceexport.Exporter) ([]podtrace.Record, *traceexport.Exporter) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), sqlite.Options{Sync: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newExporter(st)
	jc := correlate.DefaultConfig()
	jc.Block = true
	j, err := correlate.New(jc, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.New(ingest.DefaultConfig(), st, []ingest.Analyzer{j}, func(_ *lifecycle.Pod, r *podtrace.Record) { e.OnClose(r) }, quiet())
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	j.Start(p)
	r := auditfile.NewReader(p)
	if err := r.Replay(ctx, mixed+"audit.log", nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var d otlp.Decoder
	if _, err := otlp.ReadFile(ctx, mixed+"otlp-raw.jsonl", func(pb []byte) error {
		spans, _, err := d.Decode(pb)
		if err != nil {
			return err
		}
		return j.ConsumeSpans(ctx, spans)
	}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	recs, _, err := st.Records(ctx, podtrace.RecordFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return recs, e
}

func refresher(st podtrace.Store) traceexport.Refresher {
	return func(ctx context.Context, k podtrace.Key) (*podtrace.Record, error) {
		recs, _, err := st.Records(ctx, podtrace.RecordFilter{Cluster: k.Cluster, UID: k.UID, Kind: k.Kind, Limit: 100})
		for i := range recs {
			if recs[i].Seq == k.Seq {
				return &recs[i], err
			}
		}
		return nil, err
	}
}

func attr(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// Every closed delivery of the capture becomes one trace: the root span from
// creation to finish, a child per phase, milestones as events, the joined
// component spans as links; ids derived from the delivery. The deliveries
// closed before their spans arrived: the exporter reads them again.
func TestExportCapture(t *testing.T) {
	b := &backend{}
	endpoint := startBackend(t, b)
	recs, e := pipeline(t, func(st podtrace.Store) *traceexport.Exporter {
		cfg := traceexport.DefaultConfig()
		cfg.Endpoint, cfg.Delay = endpoint, time.Hour // exported at Close, read again then
		e, err := traceexport.New(context.Background(), cfg, refresher(st), nil, quiet())
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed := 0
	for _, r := range recs {
		if r.Finished != nil {
			closed++
		}
	}
	if got := e.Stats.Exported.Load(); got != int64(closed) || e.Stats.Dropped.Load() != 0 {
		t.Fatalf("exported %d deliveries, dropped %d; %d closed", got, e.Stats.Dropped.Load(), closed)
	}

	var rec *podtrace.Record
	for i := range recs {
		if recs[i].Name == "web-5f6b554666-q964m" && recs[i].Kind == podtrace.KindCreate {
			rec = &recs[i]
		}
	}
	if rec == nil || len(rec.Spans) == 0 || len(rec.Phases) == 0 {
		t.Fatalf("capture lacks the joined create delivery of web-5f6b554666-q964m: %+v", rec)
	}
	tid := podtrace.DeliveryTraceID(rec.Key())
	rootID := podtrace.DeliverySpanID(rec.Key(), "")
	byID := map[string]*tracepb.Span{}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, s := range b.spans {
		if b.services[i] != "podtrace" {
			t.Fatalf("resource service.name %q", b.services[i])
		}
		if string(s.TraceId) == string(tid[:]) {
			byID[hex.EncodeToString(s.SpanId)] = s
		}
	}
	root := byID[hex.EncodeToString(rootID[:])]
	if root == nil {
		t.Fatalf("no root span %x in trace %x (%d spans)", rootID, tid, len(byID))
	}
	if root.Name != "pod create demo/web-5f6b554666-q964m" || len(root.ParentSpanId) != 0 ||
		time.Unix(0, int64(root.StartTimeUnixNano)).UTC() != rec.Created || time.Unix(0, int64(root.EndTimeUnixNano)).UTC() != *rec.Finished {
		t.Errorf("root span %q %v–%v, record %v–%v", root.Name, root.StartTimeUnixNano, root.EndTimeUnixNano, rec.Created, rec.Finished)
	}
	for key, want := range map[string]string{"k8s.namespace.name": "demo", "k8s.pod.name": rec.Name, "k8s.pod.uid": rec.UID,
		"k8s.node.name": "hollow-node-0", "k8s.replicaset.name": "web-5f6b554666", "k8s.deployment.name": "web", "podtrace.outcome": "ready"} {
		if v := attr(root.Attributes, key); v.GetStringValue() != want {
			t.Errorf("root attribute %s = %v, want %s", key, v, want)
		}
	}
	if ids := attr(root.Attributes, "podtrace.component_trace_ids").GetArrayValue(); ids == nil || len(ids.Values) == 0 {
		t.Error("root span does not record the component trace ids")
	}
	if len(root.Events) != len(rec.Milestones) || root.Events[0].Name != rec.Milestones[0].Name {
		t.Errorf("root events %d, milestones %d", len(root.Events), len(rec.Milestones))
	}
	links := len(root.Links)
	for _, p := range rec.Phases {
		id := podtrace.DeliverySpanID(rec.Key(), "phase/"+p.Name)
		s := byID[hex.EncodeToString(id[:])]
		if s == nil {
			t.Errorf("no span for phase %s", p.Name)
			continue
		}
		if s.Name != p.Name || string(s.ParentSpanId) != string(rootID[:]) || attr(s.Attributes, "podtrace.owner").GetStringValue() != string(p.Owner) {
			t.Errorf("phase span %q parent %x owner %v", s.Name, s.ParentSpanId, attr(s.Attributes, "podtrace.owner"))
		}
		links += len(s.Links)
		for _, l := range s.Links {
			found := false
			for _, c := range rec.Spans {
				found = found || (c.SpanID == hex.EncodeToString(l.SpanId) && c.TraceID == hex.EncodeToString(l.TraceId))
			}
			if !found {
				t.Errorf("phase %s links %x/%x, not a component span of the delivery", p.Name, l.TraceId, l.SpanId)
			}
		}
	}
	if links != len(rec.Spans) {
		t.Errorf("%d links, %d component spans", links, len(rec.Spans))
	}
}

// A failed delivery carries its findings as events of their phase and
// errors as span status.
func TestExportFailedDelivery(t *testing.T) {
	b := &backend{}
	cfg := traceexport.DefaultConfig()
	cfg.Endpoint, cfg.Delay = startBackend(t, b), 0
	e, err := traceexport.New(context.Background(), cfg, nil, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	fin := t0.Add(40 * time.Second)
	rec := podtrace.Record{Cluster: "c", Namespace: "demo", Name: "bad", UID: "u-1", Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeFailed,
		Created: t0, Finished: &fin, OwnerKind: "StatefulSet", OwnerName: "db",
		Phases: []podtrace.Phase{{Name: "scheduling", Start: t0, End: t0.Add(time.Second), Owner: podtrace.OwnerPlatform},
			{Name: "image", Start: t0.Add(time.Second), End: fin, Owner: podtrace.OwnerUser}},
		Diagnosis: []podtrace.Finding{{Code: "ImagePullBackOff", Phase: "image", Owner: podtrace.OwnerUser, Message: "image not found",
			Evidence: []podtrace.Evidence{{AuditID: "a-1", Time: t0.Add(2 * time.Second), Text: "Failed"}}}}}
	e.OnClose(&rec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.spans) != 3 {
		t.Fatalf("%d spans, want root and 2 phases", len(b.spans))
	}
	for _, s := range b.spans {
		switch s.Name {
		case "pod create demo/bad":
			if s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || attr(s.Attributes, "k8s.statefulset.name").GetStringValue() != "db" {
				t.Errorf("root: status %v, attributes %v", s.Status, s.Attributes)
			}
		case "image":
			if s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || len(s.Events) != 1 || s.Events[0].Name != "finding" ||
				attr(s.Events[0].Attributes, "podtrace.finding.code").GetStringValue() != "ImagePullBackOff" {
				t.Errorf("image phase: status %v events %v", s.Status, s.Events)
			}
		case "scheduling":
			if s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("scheduling phase has an error status")
			}
		default:
			t.Errorf("unexpected span %q", s.Name)
		}
	}
}

// A backend that never answers does not block the pipeline: OnClose returns
// at once, the bounded queue drops and counts, Close gives up at its deadline.
func TestExportStalledBackend(t *testing.T) {
	b := &backend{stalled: make(chan struct{})}
	defer close(b.stalled)
	cfg := traceexport.DefaultConfig()
	cfg.Endpoint, cfg.Delay, cfg.QueueSize, cfg.Timeout = startBackend(t, b), 0, 4, 200*time.Millisecond
	e, err := traceexport.New(context.Background(), cfg, nil, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	start := time.Now()
	for i := 0; i < 20000; i++ {
		rec := podtrace.Record{Cluster: "c", Namespace: "demo", Name: "p", UID: "u", Kind: podtrace.KindCreate, Seq: i, Created: t0, Finished: &t0}
		e.OnClose(&rec)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("OnClose blocked: %v for 20000 deliveries", d)
	}
	if e.Stats.Dropped.Load() == 0 {
		t.Fatal("nothing dropped with a stalled backend and a queue of 4")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e.Close(ctx) // gives up at the deadline: the backend never answers
}
