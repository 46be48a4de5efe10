package correlate

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/otlp"
)

// Config tunes a Joiner.
type Config struct {
	Cluster string
	// MaxSpansPerPod bounds the spans kept with a pod (lifecycle.Pod.AddSpan).
	MaxSpansPerPod int
	// MaxHeld bounds the spans held for a pod, audit event or trace not
	// seen yet; beyond it the oldest are dropped and counted.
	MaxHeld int
	// HeldFor is how long, in event time, a span is held before it is
	// dropped as unmatched.
	HeldFor time.Duration
	// MaxIndex bounds each index (audit ids, traces, runtime ids → pod).
	MaxIndex int
	// Block makes ConsumeSpans wait for room in the pipeline's queue
	// instead of failing when it is full: for replaying files, where
	// nothing should be dropped.
	Block bool
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Cluster: "default", MaxSpansPerPod: 64, MaxHeld: 20_000, HeldFor: 10 * time.Minute, MaxIndex: 200_000}
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"max_spans_per_pod", c.MaxSpansPerPod}, {"max_held", c.MaxHeld}, {"max_index", c.MaxIndex}} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s: %d: must be positive", f.name, f.v))
		}
	}
	if c.HeldFor <= 0 {
		errs = append(errs, fmt.Errorf("held_for: must be positive"))
	}
	return errors.Join(errs...)
}

// Pipeline journals batches of entries and applies them on the goroutine
// that owns the pods (*ingest.Pipeline, which finds the Joiner among its
// analyzers as the EntryHandler of kind "span").
type Pipeline interface {
	Enqueue(ctx context.Context, b ingest.Batch, block bool) (<-chan error, error)
}

// EntryKind is the kind of the journal entries of component spans.
const EntryKind = "span"

// Stats are a Joiner's counters.
type Stats struct {
	Noise      atomic.Int64 // spans that join no delivery, dropped on arrival
	Taken      atomic.Int64 // spans journaled to be joined
	Overloaded atomic.Int64 // spans refused because the pipeline's queue was full
	Joined     atomic.Int64 // spans added to a pod
	NotKept    atomic.Int64 // joined spans a pod already had, or dropped at its bound
	Unmatched  atomic.Int64 // held spans dropped after HeldFor
	Dropped    atomic.Int64 // held spans dropped at MaxHeld
	Held       atomic.Int64 // spans held now
	Errors     atomic.Int64 // pods that could not be restored from the store
}

// item is a span taken in: what podtrace keeps of it, owned.
type item struct {
	ref         lifecycle.SpanRef
	class       class
	traceID     [16]byte
	podUID      string
	sandboxID   string
	containerID string
	jseq        int64 // its journal entry's seq
}

// appliedRun is a run of journal entries applied together: the first seq,
// and the latest end of its spans.
type appliedRun struct{ seq, end int64 }

// entry is an item's journal entry body.
type entry struct {
	Ref         lifecycle.SpanRef `json:"ref"`
	Class       class             `json:"c"`
	PodUID      string            `json:"pod,omitempty"`
	SandboxID   string            `json:"sb,omitempty"`
	ContainerID string            `json:"ct,omitempty"`
}

// Joiner joins component spans to pod deliveries. It is an otlp.Consumer
// (any goroutine) and an ingest.Analyzer (the pipeline goroutine).
type Joiner struct {
	cfg     Config
	metrics *Metrics
	log     *slog.Logger
	pipe    Pipeline
	closed  atomic.Bool

	// owned by the pipeline's apply goroutine
	byAudit   *index[string]   // audit id → pod uid
	byTrace   *index[[16]byte] // trace of a span naming its pod → pod uid
	byRuntime *index[string]   // sandbox or container id → pod uid
	held      held
	// firstObserved is the time of the first audit event observed since
	// start (unix ns), 0 before it
	firstObserved int64
	// recent lists the journal entries applied within HeldFor (event
	// time), a run per ApplyEntries call: what the indexes and held spans
	// were learned from, applied again after a restart (Oldest).
	recent []appliedRun

	Stats Stats
}

// New returns a Joiner; its metrics are registered with reg if not nil.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Joiner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	j := &Joiner{
		cfg: cfg, log: log,
		byAudit: newIndex[string](cfg.MaxIndex), byTrace: newIndex[[16]byte](cfg.MaxIndex), byRuntime: newIndex[string](cfg.MaxIndex),
		held: newHeld(),
	}
	if reg != nil {
		m, err := NewMetrics(reg)
		if err != nil {
			return nil, fmt.Errorf("span metrics: %w", err)
		}
		j.metrics = m
		if err := reg.Register(newStatsCollector(j)); err != nil {
			return nil, fmt.Errorf("span metrics: %w", err)
		}
	}
	return j, nil
}

// Start makes ConsumeSpans journal spans in p, which must also run the
// Joiner as an analyzer.
func (j *Joiner) Start(p Pipeline) {
	j.pipe = p
}

// Close stops taking spans: ConsumeSpans fails after it. Call it before
// closing the pipeline.
func (j *Joiner) Close() {
	j.closed.Store(true)
}

// ErrClosed is ConsumeSpans' error after Close (or before Start).
var ErrClosed = errors.New("span joiner not running")

// ConsumeSpans classifies spans, feeds the metrics, drops those that join
// no delivery and journals the rest; it returns once they are durable (the
// receiver acknowledges them then). Spans already journaled (a client
// retrying a batch) are kept once.
func (j *Joiner) ConsumeSpans(ctx context.Context, spans []otlp.Span) error {
	var entries []podtrace.JournalEvent
	for i := range spans {
		sp := &spans[i]
		c, rank, req := classify(sp)
		if j.metrics != nil {
			j.metrics.observe(sp, &req)
		}
		if c == classNoise {
			j.Stats.Noise.Add(1)
			continue
		}
		it := newItem(sp, c, rank)
		body, err := json.Marshal(entry{Ref: it.ref, Class: it.class, PodUID: it.podUID, SandboxID: it.sandboxID, ContainerID: it.containerID})
		if err != nil {
			return fmt.Errorf("encode span: %w", err)
		}
		entries = append(entries, podtrace.JournalEvent{Key: it.ref.TraceID + it.ref.SpanID, Time: time.Unix(0, it.ref.End).UTC(), Body: body})
	}
	if len(entries) == 0 {
		return nil
	}
	if j.pipe == nil || j.closed.Load() {
		return ErrClosed
	}
	done, err := j.pipe.Enqueue(ctx, ingest.Batch{Kind: EntryKind, Entries: entries}, j.cfg.Block)
	if errors.Is(err, ingest.ErrOverloaded) {
		j.Stats.Overloaded.Add(int64(len(entries)))
		return fmt.Errorf("%w: the pipeline's queue is full", otlp.ErrOverloaded)
	}
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	j.Stats.Taken.Add(int64(len(entries)))
	return nil
}

// EntryKind implements ingest.EntryHandler.
func (j *Joiner) EntryKind() string { return EntryKind }

// ApplyEntries joins journaled spans; on the pipeline's apply goroutine.
// Joining a span again is harmless: a pod keeps a span once.
func (j *Joiner) ApplyEntries(m *lifecycle.Machine, entries []podtrace.JournalEvent) {
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		var en entry
		if err := json.Unmarshal(e.Body, &en); err != nil {
			j.Stats.Errors.Add(1)
			j.log.Warn("journaled span", "key", e.Key, "err", err)
			continue
		}
		it := item{ref: en.Ref, class: en.Class, podUID: en.PodUID, sandboxID: en.SandboxID, containerID: en.ContainerID, jseq: e.Seq}
		if _, err := hex.Decode(it.traceID[:], []byte(en.Ref.TraceID)); err != nil {
			j.Stats.Errors.Add(1)
			continue
		}
		items = append(items, it)
	}
	if len(entries) > 0 {
		run := appliedRun{seq: entries[0].Seq}
		for i := range items {
			run.end = max(run.end, items[i].ref.End)
		}
		j.recent = append(j.recent, run)
	}
	j.join(m, items)
	cut := m.Now().UnixNano() - int64(j.cfg.HeldFor)
	n := 0
	for n < len(j.recent) && j.recent[n].end < cut {
		n++
	}
	j.recent = j.recent[n:]
}

// Oldest implements ingest.EntryHandler: the journal seq of the oldest span
// applied within HeldFor. Spans held for their pod, and the trace and
// runtime ids joined spans taught, live in memory only; applying the spans
// from there again after a restart brings them back (a pod keeps a span
// once, so those joined already are not added twice).
func (j *Joiner) Oldest() int64 {
	if len(j.recent) == 0 {
		return 0
	}
	return j.recent[0].seq
}

func newItem(sp *otlp.Span, c class, rank uint8) item {
	it := item{class: c, traceID: sp.TraceID, podUID: string(sp.Attrs.PodUID),
		sandboxID: string(sp.Attrs.SandboxID), containerID: string(sp.Attrs.ContainerID)}
	it.ref = lifecycle.SpanRef{
		Service: string(sp.Service), Name: string(sp.Name),
		Start: int64(sp.Start), End: int64(sp.End),
		TraceID: hex.EncodeToString(sp.TraceID[:]), SpanID: hex.EncodeToString(sp.SpanID[:]),
		AuditID: string(sp.Attrs.AuditID), Rank: rank,
	}
	if sp.Status != otlp.StatusUnset {
		it.ref.Status = sp.Status.String()
	}
	if !sp.IsRoot() {
		it.ref.Parent = hex.EncodeToString(sp.Parent[:])
	}
	return it
}

// join joins items to their pods, or holds them; on the pipeline goroutine.
func (j *Joiner) join(m *lifecycle.Machine, items []item) {
	for i := range items {
		it := &items[i]
		switch it.class {
		case classRequest:
			if uid, ok := j.auditPod(m, it); ok {
				j.attach(m, uid, it)
			} else {
				j.hold(key{byAudit, it.ref.AuditID}, it)
			}
		case classPodSpan:
			j.attach(m, it.podUID, it)
		case classChild:
			uid, ok := j.byTrace.get(it.traceID)
			if !ok {
				uid, ok = j.runtimePod(it)
			}
			if ok {
				j.attach(m, uid, it)
				continue
			}
			j.hold(key{byTrace, string(it.traceID[:])}, it)
			if it.sandboxID != "" {
				j.hold(key{byRuntime, it.sandboxID}, it)
			}
			if it.containerID != "" {
				j.hold(key{byRuntime, it.containerID}, it)
			}
		}
	}
	j.expire(m.Now().UnixNano())
	j.Stats.Held.Store(int64(j.held.n))
}

// auditPod is the pod of the audit event with the id: learned as the event
// was applied (ObserveAudit); or else, when the event was applied before a
// restart, which empties the index, the pod the journal names; or not
// known yet.
func (j *Joiner) auditPod(m *lifecycle.Machine, it *item) (string, bool) {
	auditID := it.ref.AuditID
	if uid, ok := j.byAudit.get(auditID); ok {
		return uid, true
	}
	// every event applied since start was observed: only a request that
	// began before the first of them (give or take the minute batches of
	// audit events arrive out of order by) can have its event in the
	// journal unobserved, so later ones do not ask the store
	if j.firstObserved != 0 && it.ref.Start > j.firstObserved+int64(time.Minute) {
		return "", false
	}
	uid, err := m.JournaledPod(auditID + "/" + decode.StageResponseComplete)
	if err != nil {
		j.Stats.Errors.Add(1)
		return "", false
	}
	if uid == "" {
		return "", false
	}
	j.byAudit.put(auditID, uid)
	return uid, true
}

// ObserveAudit implements ingest.AuditObserver: it learns the pod of every
// applied audit event and joins the request spans held for it, so a request
// joins its pod whichever came first, and whenever the pods are saved.
func (j *Joiner) ObserveAudit(m *lifecycle.Machine, ev *decode.Event, uid string) {
	if j.firstObserved == 0 {
		j.firstObserved = ev.Time.UnixNano()
	}
	j.byAudit.put(ev.AuditID, uid)
	for _, it := range j.held.take(key{byAudit, ev.AuditID}) {
		j.attach(m, uid, &it)
	}
}

func (j *Joiner) runtimePod(it *item) (string, bool) {
	for _, id := range []string{it.sandboxID, it.containerID} {
		if id == "" {
			continue
		}
		if uid, ok := j.byRuntime.get(id); ok {
			return uid, true
		}
	}
	return "", false
}

// attach adds it to the pod with the uid, restoring the pod if it left
// memory, or holds it if the pod is not known yet.
func (j *Joiner) attach(m *lifecycle.Machine, uid string, it *item) {
	p, err := m.Lookup(uid)
	if err != nil {
		j.Stats.Errors.Add(1)
		j.log.Warn("join span", "pod", uid, "err", err)
		return
	}
	if p == nil {
		j.hold(key{byPod, uid}, it)
		return
	}
	if j.add(p, it) {
		m.MarkDirty([]*lifecycle.Pod{p})
	}
}

// add adds it to pod p, learns what it tells about p (its trace, its
// runtime ids) and joins what was held for that; it reports whether p changed.
func (j *Joiner) add(p *lifecycle.Pod, it *item) bool {
	changed := p.AddSpan(it.ref, j.cfg.MaxSpansPerPod)
	if changed {
		j.Stats.Joined.Add(1)
	} else {
		j.Stats.NotKept.Add(1)
	}
	if it.class == classPodSpan {
		j.byTrace.put(it.traceID, p.UID)
		changed = j.release(p, key{byTrace, string(it.traceID[:])}) || changed
	}
	for _, id := range []string{it.sandboxID, it.containerID} {
		if id != "" {
			j.byRuntime.put(id, p.UID)
			changed = j.release(p, key{byRuntime, id}) || changed
		}
	}
	return changed
}

// release adds the spans held under k to pod p.
func (j *Joiner) release(p *lifecycle.Pod, k key) bool {
	changed := false
	for _, it := range j.held.take(k) {
		changed = j.add(p, &it) || changed
	}
	return changed
}

func (j *Joiner) hold(k key, it *item) {
	j.held.put(k, *it, it.ref.End)
	for j.held.n > j.cfg.MaxHeld {
		if j.held.dropOldest() {
			j.Stats.Dropped.Add(1)
		}
	}
}

// expire drops held spans older than HeldFor before now (event time).
func (j *Joiner) expire(now int64) {
	if now == 0 {
		return
	}
	j.Stats.Unmatched.Add(int64(j.held.expire(now - int64(j.cfg.HeldFor))))
}

// Analyze is the Joiner's part of saving a pod: it learns the pod's audit
// ids and joins the spans held for them or for the pod, then fills the
// pod's records' spans and trace ids. On the pipeline goroutine.
func (j *Joiner) Analyze(p *lifecycle.Pod, recs []podtrace.Record, now time.Time) {
	for _, s := range p.Marks {
		j.learnAudit(p, s.AuditID)
	}
	for i := range p.Facts {
		j.learnAudit(p, p.Facts[i].First.AuditID)
		j.learnAudit(p, p.Facts[i].Last.AuditID)
	}
	j.release(p, key{byPod, p.UID})
	j.Stats.Held.Store(int64(j.held.n))
	fill(p, recs)
}

func (j *Joiner) learnAudit(p *lifecycle.Pod, id string) {
	if id == "" {
		return
	}
	j.byAudit.put(id, p.UID)
	j.release(p, key{byAudit, id})
}

var _ ingest.EntryHandler = (*Joiner)(nil)
var _ ingest.AuditObserver = (*Joiner)(nil)
var _ otlp.Consumer = (*Joiner)(nil)
