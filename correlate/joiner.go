package correlate

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/otlp"
)

// Config tunes a Joiner.
type Config struct {
	Cluster string
	// MaxSpansPerPod bounds the spans kept with a pod (lifecycle.Pod.AddSpan).
	MaxSpansPerPod int
	// MaxInbox bounds the spans taken in but not yet joined; beyond it
	// ConsumeSpans fails with otlp.ErrOverloaded (the client retries).
	MaxInbox int
	// MaxHeld bounds the spans held for a pod, audit event or trace not
	// seen yet; beyond it the oldest are dropped and counted.
	MaxHeld int
	// HeldFor is how long, in event time, a span is held before it is
	// dropped as unmatched.
	HeldFor time.Duration
	// MaxIndex bounds each index (audit ids, traces, runtime ids → pod).
	MaxIndex int
	// Block makes ConsumeSpans wait for the pipeline instead of failing when
	// it is busy: for replaying files, where nothing should be dropped.
	Block bool
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Cluster: "default", MaxSpansPerPod: 64, MaxInbox: 100_000, MaxHeld: 20_000, HeldFor: 10 * time.Minute, MaxIndex: 200_000}
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"max_spans_per_pod", c.MaxSpansPerPod}, {"max_inbox", c.MaxInbox}, {"max_held", c.MaxHeld}, {"max_index", c.MaxIndex}} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s: %d: must be positive", f.name, f.v))
		}
	}
	if c.HeldFor <= 0 {
		errs = append(errs, fmt.Errorf("held_for: must be positive"))
	}
	return errors.Join(errs...)
}

// Pipeline runs functions on the goroutine that owns the pods
// (*ingest.Pipeline).
type Pipeline interface {
	Submit(ctx context.Context, fn func(m *lifecycle.Machine), block bool) error
}

// Stats are a Joiner's counters.
type Stats struct {
	Noise      atomic.Int64 // spans that join no delivery, dropped on arrival
	Taken      atomic.Int64 // spans taken in to be joined
	Overloaded atomic.Int64 // spans refused because the inbox was full
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
}

// Joiner joins component spans to pod deliveries. It is an otlp.Consumer
// (any goroutine) and an ingest.Analyzer (the pipeline goroutine).
type Joiner struct {
	cfg     Config
	metrics *Metrics
	log     *slog.Logger
	pipe    Pipeline
	started bool

	mu      sync.Mutex
	inbox   []item
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once

	// owned by the pipeline goroutine
	byAudit   *index[string]   // audit id → pod uid
	byTrace   *index[[16]byte] // trace of a span naming its pod → pod uid
	byRuntime *index[string]   // sandbox or container id → pod uid
	held      held

	Stats Stats
}

// New returns a Joiner; its metrics are registered with reg if not nil.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Joiner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	j := &Joiner{
		cfg: cfg, log: log,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
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

// Start starts joining spans on p's goroutine. p must also run the Joiner
// as an Analyzer.
func (j *Joiner) Start(p Pipeline) {
	j.pipe = p
	j.started = true
	go j.feed()
}

// Close joins what the inbox holds and stops. Call it before closing the
// pipeline.
func (j *Joiner) Close() {
	if !j.started {
		return
	}
	j.once.Do(func() { close(j.stop) })
	<-j.stopped
}

// feed hands the inbox to the pipeline whenever spans arrive. It waits for
// room in the pipeline's queue itself, so receivers never do.
func (j *Joiner) feed() {
	defer close(j.stopped)
	for {
		select {
		case <-j.wake:
		case <-j.stop:
			j.submit(context.Background())
			return
		}
		j.submit(context.Background())
	}
}

func (j *Joiner) submit(ctx context.Context) {
	j.mu.Lock()
	empty := len(j.inbox) == 0
	j.mu.Unlock()
	if empty {
		return
	}
	if err := j.pipe.Submit(ctx, j.drain, true); err != nil {
		j.mu.Lock()
		n := len(j.inbox)
		j.inbox = nil
		j.mu.Unlock()
		j.Stats.Overloaded.Add(int64(n))
		j.log.Warn("spans not joined", "spans", n, "err", err)
	}
}

// ConsumeSpans classifies spans, feeds the metrics, drops those that join
// no delivery and takes in copies of the rest.
func (j *Joiner) ConsumeSpans(ctx context.Context, spans []otlp.Span) error {
	var items []item
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
		items = append(items, newItem(sp, c, rank))
	}
	if len(items) == 0 {
		return nil
	}
	if j.cfg.Block {
		j.Stats.Taken.Add(int64(len(items)))
		return j.pipe.Submit(ctx, func(m *lifecycle.Machine) { j.join(m, items) }, true)
	}
	j.mu.Lock()
	if len(j.inbox)+len(items) > j.cfg.MaxInbox {
		j.mu.Unlock()
		j.Stats.Overloaded.Add(int64(len(items)))
		return fmt.Errorf("%w: %d spans waiting to be joined", otlp.ErrOverloaded, j.cfg.MaxInbox)
	}
	j.inbox = append(j.inbox, items...)
	j.mu.Unlock()
	j.Stats.Taken.Add(int64(len(items)))
	select {
	case j.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	return nil
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

// drain joins the inbox; on the pipeline goroutine.
func (j *Joiner) drain(m *lifecycle.Machine) {
	j.mu.Lock()
	items := j.inbox
	j.inbox = nil
	j.mu.Unlock()
	j.join(m, items)
}

// join joins items to their pods, or holds them; on the pipeline goroutine.
func (j *Joiner) join(m *lifecycle.Machine, items []item) {
	for i := range items {
		it := &items[i]
		switch it.class {
		case classRequest:
			if uid, ok := j.byAudit.get(it.ref.AuditID); ok {
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

var _ ingest.Analyzer = (*Joiner)(nil)
var _ otlp.Consumer = (*Joiner)(nil)
