package traceexport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/otlp"
)

// Config says where and how traces are exported.
type Config struct {
	// Endpoint is the OTLP endpoint: grpc://host:port, grpcs://host:port,
	// http(s)://host:port[/path] (path default /v1/traces), or host:port (gRPC).
	Endpoint string
	// Delay is how long a closed delivery waits before it is exported, so
	// late component spans are linked too.
	Delay time.Duration
	// QueueSize bounds the closed deliveries waiting; beyond it they are
	// dropped and counted.
	QueueSize int
	// Timeout bounds one export call of the SDK exporter.
	Timeout time.Duration
}

// DefaultConfig returns the defaults (Endpoint unset).
func DefaultConfig() Config {
	return Config{Delay: 10 * time.Second, QueueSize: 10_000, Timeout: 10 * time.Second}
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if _, _, _, err := otlp.ParseEndpoint(c.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.Delay < 0 {
		errs = append(errs, errors.New("delay: must not be negative"))
	}
	if c.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("queue size %d: must be positive", c.QueueSize))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	return errors.Join(errs...)
}

// Refresher reads a delivery's record again, with the component spans
// joined since it closed. Store.Records serves.
type Refresher func(ctx context.Context, k podtrace.Key) (*podtrace.Record, error)

// Stats are an Exporter's counters.
type Stats struct {
	Exported    atomic.Int64 // deliveries turned into traces
	Dropped     atomic.Int64 // deliveries dropped on a full queue
	Queued      atomic.Int64 // deliveries waiting now
	SpansSent   atomic.Int64 // spans the SDK exporter delivered
	SpansFailed atomic.Int64 // spans the SDK exporter gave up on
}

type pending struct {
	rec podtrace.Record
	due time.Time
}

// Exporter exports closed deliveries as traces.
type Exporter struct {
	cfg     Config
	refresh Refresher
	log     *slog.Logger
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	queue   chan pending
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	Stats   Stats
}

// New starts an exporter to cfg.Endpoint; refresh may be nil. Its metrics
// are registered with reg if not nil. It connects lazily: an absent backend
// delays nothing but its own exports.
func New(ctx context.Context, cfg Config, refresh Refresher, reg prometheus.Registerer, log *slog.Logger) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("trace export: %w", err)
	}
	e := &Exporter{cfg: cfg, refresh: refresh, log: log,
		queue: make(chan pending, cfg.QueueSize), stop: make(chan struct{}), done: make(chan struct{})}
	exp, err := newSDKExporter(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("trace export to %s: %w", cfg.Endpoint, err)
	}
	e.tp = sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "podtrace"))),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		// blocking: the SDK never drops silently; the bounded queue in front
		// of it (OnClose) drops and counts instead
		sdktrace.WithBatcher(counting{exp, &e.Stats, log}, sdktrace.WithBlocking()),
	)
	e.tracer = e.tp.Tracer("github.com/podtrace/podtrace/traceexport")
	if reg != nil {
		if err := reg.Register(collector{e, newDescs()}); err != nil {
			return nil, fmt.Errorf("trace export metrics: %w", err)
		}
	}
	go e.run()
	return e, nil
}

func newSDKExporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	protocol, target, secure, err := otlp.ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if protocol == "http" {
		return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(target), otlptracehttp.WithTimeout(cfg.Timeout))
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(target), otlptracegrpc.WithTimeout(cfg.Timeout)}
	if !secure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	return otlptracegrpc.New(ctx, opts...)
}

// OnClose queues a closed delivery for export; it never blocks. It is the
// ingest pipeline's onClose callback.
func (e *Exporter) OnClose(r *podtrace.Record) {
	select {
	case e.queue <- pending{rec: *r, due: time.Now().Add(e.cfg.Delay)}:
		e.Stats.Queued.Add(1)
	default:
		e.Stats.Dropped.Add(1)
	}
}

// Close exports what is queued at once, flushes the SDK and stops, within
// ctx.
func (e *Exporter) Close(ctx context.Context) error {
	e.once.Do(func() { close(e.stop) })
	select {
	case <-e.done:
	case <-ctx.Done():
		return fmt.Errorf("trace export: %d deliveries not exported: %w", len(e.queue), ctx.Err())
	}
	return e.tp.Shutdown(ctx)
}

func (e *Exporter) run() {
	defer close(e.done)
	stopping := false
	for {
		var p pending
		select {
		case p = <-e.queue:
		case <-e.stop:
			stopping = true
			select {
			case p = <-e.queue:
			default:
				return
			}
		}
		if !stopping {
			if wait := time.Until(p.due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-e.stop:
					stopping = true
					t.Stop()
				}
			}
		}
		e.Stats.Queued.Add(-1)
		e.export(p.rec)
	}
}

func (e *Exporter) export(rec podtrace.Record) {
	if e.refresh != nil {
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
		fresh, err := e.refresh(ctx, rec.Key())
		cancel()
		switch {
		case err != nil:
			e.log.Warn("trace export: reading the record again failed, exporting it as it closed", "uid", rec.UID, "err", err)
		case fresh != nil:
			rec = *fresh
		}
	}
	e.emit(&rec)
	e.Stats.Exported.Add(1)
}

// emit builds the delivery's trace with the SDK's tracer.
func (e *Exporter) emit(r *podtrace.Record) {
	key := r.Key()
	tid := trace.TraceID(podtrace.DeliveryTraceID(key))
	end := recordEnd(r)
	links := linksByPhase(r)

	rootCtx := withIDs(context.Background(), tid, podtrace.DeliverySpanID(key, ""))
	ctx, root := e.tracer.Start(rootCtx, "pod "+string(r.Kind)+" "+r.Namespace+"/"+r.Name,
		trace.WithNewRoot(), trace.WithTimestamp(r.Created), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(recordAttributes(r)...), trace.WithLinks(links[""]...))
	for _, m := range r.Milestones {
		root.AddEvent(m.Name, trace.WithTimestamp(m.Time), trace.WithAttributes(attribute.String("podtrace.audit_id", m.AuditID)))
	}
	phases := map[string]trace.Span{}
	for _, p := range r.Phases {
		pctx := withIDs(ctx, tid, podtrace.DeliverySpanID(key, "phase/"+p.Name))
		_, ps := e.tracer.Start(pctx, p.Name, trace.WithTimestamp(p.Start), trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(attribute.String("podtrace.owner", string(p.Owner))), trace.WithLinks(links[p.Name]...))
		phases[p.Name] = ps
	}
	for _, f := range r.Diagnosis {
		s, ok := phases[f.Phase]
		if !ok {
			s = root
		}
		at := r.Created
		if len(f.Evidence) > 0 {
			at = f.Evidence[0].Time
		}
		attrs := []attribute.KeyValue{
			attribute.String("podtrace.finding.code", f.Code), attribute.String("podtrace.finding.phase", f.Phase),
			attribute.String("podtrace.finding.owner", string(f.Owner)), attribute.String("message", f.Message),
			attribute.String("podtrace.finding.remedy", f.Remedy),
		}
		for _, ev := range f.Evidence {
			attrs = append(attrs, attribute.String("podtrace.evidence", ev.AuditID+" "+ev.Text))
		}
		s.AddEvent("finding", trace.WithTimestamp(at), trace.WithAttributes(attrs...))
		s.SetStatus(codes.Error, f.Code+": "+f.Message)
	}
	if r.Outcome == podtrace.OutcomeFailed {
		root.SetStatus(codes.Error, "delivery failed")
	}
	for _, p := range r.Phases {
		phases[p.Name].End(trace.WithTimestamp(p.End))
	}
	root.End(trace.WithTimestamp(end))
}

// recordEnd is when the delivery's trace ends: its finish, else its last
// phase's end (an open delivery exported at shutdown).
func recordEnd(r *podtrace.Record) time.Time {
	end := r.Created
	if r.Finished != nil {
		end = *r.Finished
	}
	for _, p := range r.Phases {
		if p.End.After(end) {
			end = p.End
		}
	}
	return end
}

// recordAttributes are the root span's attributes: OpenTelemetry k8s.*
// semantic conventions, then podtrace's own.
func recordAttributes(r *podtrace.Record) []attribute.KeyValue {
	a := []attribute.KeyValue{
		attribute.String("k8s.cluster.name", r.Cluster),
		attribute.String("k8s.namespace.name", r.Namespace),
		attribute.String("k8s.pod.name", r.Name),
		attribute.String("k8s.pod.uid", r.UID),
	}
	if r.Node != "" {
		a = append(a, attribute.String("k8s.node.name", r.Node))
	}
	a = append(a, ownerAttributes(r.OwnerKind, r.OwnerName)...)
	a = append(a,
		attribute.String("podtrace.kind", string(r.Kind)),
		attribute.Int("podtrace.seq", r.Seq),
		attribute.String("podtrace.outcome", string(r.Outcome)))
	if r.OwnerKind != "" {
		a = append(a, attribute.String("podtrace.owner_kind", r.OwnerKind), attribute.String("podtrace.owner_name", r.OwnerName))
	}
	if s := r.SLO; s != nil {
		a = append(a, attribute.Float64("podtrace.slo.target_seconds", s.TargetSeconds), attribute.String("podtrace.slo.rule", s.Rule))
		if s.Met != nil {
			a = append(a, attribute.Bool("podtrace.slo.met", *s.Met))
		}
	}
	if ids := componentTraces(r); len(ids) > 0 {
		a = append(a, attribute.StringSlice("podtrace.component_trace_ids", ids))
	}
	return a
}

// ownerAttributes names the pod's controller with the k8s.* conventions; a
// ReplicaSet named <deployment>-<pod-template-hash> names its Deployment too.
func ownerAttributes(kind, name string) []attribute.KeyValue {
	switch kind {
	case "ReplicaSet":
		a := []attribute.KeyValue{attribute.String("k8s.replicaset.name", name)}
		if d, ok := deploymentOf(name); ok {
			a = append(a, attribute.String("k8s.deployment.name", d))
		}
		return a
	case "StatefulSet":
		return []attribute.KeyValue{attribute.String("k8s.statefulset.name", name)}
	case "DaemonSet":
		return []attribute.KeyValue{attribute.String("k8s.daemonset.name", name)}
	case "Job":
		return []attribute.KeyValue{attribute.String("k8s.job.name", name)}
	}
	return nil
}

// deploymentOf strips a pod-template-hash suffix: Kubernetes writes it with
// the alphabet of rand.SafeEncodeString.
func deploymentOf(rs string) (string, bool) {
	i := strings.LastIndexByte(rs, '-')
	if i <= 0 || len(rs)-i-1 < 5 || len(rs)-i-1 > 10 {
		return "", false
	}
	for _, c := range rs[i+1:] {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", c) {
			return "", false
		}
	}
	return rs[:i], true
}

// componentTraces are the distinct trace ids of the delivery's component
// spans, sorted.
func componentTraces(r *podtrace.Record) []string {
	seen := map[string]bool{}
	var ids []string
	for _, s := range r.Spans {
		if !seen[s.TraceID] {
			seen[s.TraceID] = true
			ids = append(ids, s.TraceID)
		}
	}
	sort.Strings(ids)
	return ids
}

// linksByPhase links each component span from the phase it started in
// ("" for the root when it started in none).
func linksByPhase(r *podtrace.Record) map[string][]trace.Link {
	out := map[string][]trace.Link{}
	for _, s := range r.Spans {
		sc, ok := spanContext(s)
		if !ok {
			continue
		}
		phase := ""
		for _, p := range r.Phases {
			if !s.Start.Before(p.Start) && s.Start.Before(p.End) {
				phase = p.Name
				break
			}
		}
		out[phase] = append(out[phase], trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{
			attribute.String("podtrace.link.service", s.Service), attribute.String("podtrace.link.name", s.Name)}})
	}
	return out
}

func spanContext(s podtrace.Span) (trace.SpanContext, bool) {
	tid, err := trace.TraceIDFromHex(s.TraceID)
	if err != nil {
		return trace.SpanContext{}, false
	}
	sid, err := trace.SpanIDFromHex(s.SpanID)
	if err != nil {
		return trace.SpanContext{}, false
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}), true
}

// idGenerator hands the SDK the ids the context carries (withIDs): the
// derived ids of the delivery's spans.
type idGenerator struct{}

type idsKey struct{}

type ids struct {
	trace trace.TraceID
	span  trace.SpanID
}

func withIDs(ctx context.Context, tid trace.TraceID, sid [8]byte) context.Context {
	return context.WithValue(ctx, idsKey{}, ids{tid, trace.SpanID(sid)})
}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	v, _ := ctx.Value(idsKey{}).(ids)
	return v.trace, v.span
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	v, _ := ctx.Value(idsKey{}).(ids)
	return v.span
}

// counting counts what the SDK exporter delivered or gave up on.
type counting struct {
	sdktrace.SpanExporter
	st  *Stats
	log *slog.Logger
}

func (c counting) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		c.st.SpansFailed.Add(int64(len(spans)))
		c.log.Warn("trace export failed", "spans", len(spans), "err", err)
		return err
	}
	c.st.SpansSent.Add(int64(len(spans)))
	return nil
}
