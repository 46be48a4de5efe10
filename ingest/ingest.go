// Package ingest is podtrace's pipeline: it journals decoded audit events
// durably, applies them to the lifecycle machine, runs the analyses on the
// pods that changed and saves their states and records.
//
// One goroutine owns the store's writer side and the machine. Sources hand
// it batches through Enqueue; a batch is acknowledged once its events are
// committed to the journal (group commit: batches waiting together share a
// transaction), before they are applied. States and records are saved every
// FlushInterval with the journal position they reflect, so after a crash the
// pipeline re-applies only the journal's tail: no acknowledged event is lost
// and none is applied twice to what was saved.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/lifecycle"
)

// ErrOverloaded means the pipeline's queue is full: the source should ask
// its client to retry (HTTP 503).
var ErrOverloaded = errors.New("ingest queue full")

// ErrClosed means the pipeline is shutting down.
var ErrClosed = errors.New("ingest pipeline closed")

// Analyzer fills the analysis fields (diagnosis, slo, ...) of a pod's
// records. now is the latest event time, the pipeline's only clock.
type Analyzer interface {
	Analyze(p *lifecycle.Pod, recs []podtrace.Record, now time.Time)
}

// AnalyzerFunc adapts a function to Analyzer.
type AnalyzerFunc func(p *lifecycle.Pod, recs []podtrace.Record, now time.Time)

// Analyze calls f.
func (f AnalyzerFunc) Analyze(p *lifecycle.Pod, recs []podtrace.Record, now time.Time) {
	f(p, recs, now)
}

// Config tunes the pipeline.
type Config struct {
	Cluster string
	// QueueEvents bounds the events waiting to be journaled; beyond it
	// non-blocking Enqueue fails with ErrOverloaded.
	QueueEvents int
	// FlushInterval is how often states and records are saved.
	FlushInterval time.Duration
	// FlushEvents saves early after this many applied events.
	FlushEvents int
	// SharedJournal is for replicas of one cluster on one shared store
	// (see package postgres): the pipeline applies the cluster's whole
	// journal in seq order, its own events and those other replicas
	// journaled, instead of only the events it journaled itself.
	SharedJournal bool
	Lifecycle     lifecycle.Config
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Cluster: "default", QueueEvents: 200_000, FlushInterval: 500 * time.Millisecond, FlushEvents: 100_000, Lifecycle: lifecycle.DefaultConfig()}
}

// Batch is a set of decoded events from one source delivery (a webhook
// request, a chunk of a file).
type Batch struct {
	Events []*decode.Event
	// Offsets to save once the batch is applied (e.g. a file position).
	Offsets map[string]int64
}

// Stats are the pipeline's counters.
type Stats struct {
	Enqueued   atomic.Int64 // events accepted into the queue
	Journaled  atomic.Int64 // events newly committed to the journal
	Duplicates atomic.Int64 // events already journaled (same auditID and stage)
	Applied    atomic.Int64 // events applied to pods
	Unmatched  atomic.Int64 // journaled events no lifecycle rule uses
	Overloaded atomic.Int64 // events refused because the queue was full
	Records    atomic.Int64 // records saved
	Flushes    atomic.Int64
	OpenPods   atomic.Int64 // pods in memory
	Pods       atomic.Int64 // pods first seen since start
	Queued     atomic.Int64 // events waiting now
	Errors     atomic.Int64 // store errors
	ClockAhead atomic.Int64 // events too far ahead to move the event clock alone (lifecycle.Config.MaxClockStep)
	Clock      atomic.Int64 // the event clock at the last save, unix ns
}

type submission struct {
	batch Batch
	reply chan error
	fn    func(m *lifecycle.Machine) // set by Submit instead of batch/reply
}

// Pipeline is the ingest pipeline. Create with New, then Start.
type Pipeline struct {
	cfg       Config
	store     podtrace.Store
	machine   *lifecycle.Machine
	analyzers []Analyzer
	onClose   func(p *lifecycle.Pod, r *podtrace.Record)
	log       *slog.Logger
	subs      chan submission
	stop      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
	Stats     Stats

	// owned by the run goroutine
	applied   int64
	sinceSave int
	lastSave  time.Time
	offsets   map[string]int64
	errMu     sync.Mutex
	lastErr   error // last store error, for readiness
}

// New returns a pipeline over store. onClose, if not nil, is called once for
// each record when it closes (gets its finished time), after it is saved.
func New(cfg Config, store podtrace.Store, analyzers []Analyzer, onClose func(p *lifecycle.Pod, r *podtrace.Record), log *slog.Logger) *Pipeline {
	p := &Pipeline{
		cfg: cfg, store: store, analyzers: analyzers, onClose: onClose, log: log,
		subs: make(chan submission, 1024), stop: make(chan struct{}), done: make(chan struct{}),
		offsets: map[string]int64{},
	}
	p.machine = lifecycle.New(cfg.Lifecycle, loader{p})
	return p
}

// Start recovers from the journal (re-applying events after the last saved
// position) and starts the pipeline goroutine.
func (p *Pipeline) Start(ctx context.Context) error {
	applied, err := p.store.Applied(ctx, p.cfg.Cluster)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	p.applied = applied
	recovered, err := p.catchUp(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if recovered > 0 {
		if err := p.save(ctx); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		p.log.Info("recovered from journal", "events", recovered, "applied", p.applied)
	}
	p.lastSave = time.Now()
	go p.run()
	return nil
}

// Enqueue hands a batch to the pipeline. With block false it fails at once
// with ErrOverloaded when the queue is full; with block true it waits for
// room. The returned channel receives nil once the batch is durable in the
// journal, or the error that stopped it.
func (p *Pipeline) Enqueue(ctx context.Context, b Batch, block bool) (<-chan error, error) {
	n := int64(len(b.Events))
	if !block && p.Stats.Queued.Load()+n > int64(p.cfg.QueueEvents) && p.Stats.Queued.Load() > 0 {
		p.Stats.Overloaded.Add(n)
		return nil, ErrOverloaded
	}
	reply := make(chan error, 1)
	s := submission{batch: b, reply: reply}
	p.Stats.Queued.Add(n)
	if block {
		select {
		case p.subs <- s:
		case <-ctx.Done():
			p.Stats.Queued.Add(-n)
			return nil, ctx.Err()
		case <-p.stop:
			p.Stats.Queued.Add(-n)
			return nil, ErrClosed
		}
	} else {
		select {
		case p.subs <- s:
		case <-p.stop:
			p.Stats.Queued.Add(-n)
			return nil, ErrClosed
		default:
			p.Stats.Queued.Add(-n)
			p.Stats.Overloaded.Add(n)
			return nil, ErrOverloaded
		}
	}
	p.Stats.Enqueued.Add(n)
	return reply, nil
}

// Submit hands fn to the pipeline goroutine, which runs it in turn with the
// batches, with the lifecycle machine it owns: the way other sources (OTLP
// spans) change pods without sharing them. Pods fn changes must be marked
// dirty (Machine.MarkDirty) to be saved. With block false it fails at once
// with ErrOverloaded when the queue is full; with block true it waits.
func (p *Pipeline) Submit(ctx context.Context, fn func(m *lifecycle.Machine), block bool) error {
	s := submission{fn: fn}
	if block {
		select {
		case p.subs <- s:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-p.stop:
			return ErrClosed
		}
	}
	select {
	case p.subs <- s:
		return nil
	case <-p.stop:
		return ErrClosed
	default:
		return ErrOverloaded
	}
}

// Close stops accepting batches, applies and saves everything queued, and
// waits for the pipeline goroutine to end.
func (p *Pipeline) Close() error {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	return p.Healthy()
}

// Healthy reports the last store error, if the pipeline could not save.
func (p *Pipeline) Healthy() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.lastErr
}

func (p *Pipeline) setErr(err error) {
	p.errMu.Lock()
	p.lastErr = err
	p.errMu.Unlock()
}

func (p *Pipeline) run() {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.FlushInterval)
	defer tick.Stop()
	ctx := context.Background()
	group := make([]submission, 0, 64)
	for {
		group = group[:0]
		select {
		case s := <-p.subs:
			group = append(group, s)
		case <-tick.C:
		case <-p.stop:
			// drain what is already queued, then save and leave
			for {
				select {
				case s := <-p.subs:
					group = append(group, s)
					continue
				default:
				}
				break
			}
			p.commit(ctx, group)
			p.saveAndReport(ctx)
			return
		}
		// group commit: take what else is waiting, up to a bound
	more:
		for n := 0; n < 256; n++ {
			select {
			case s := <-p.subs:
				group = append(group, s)
			default:
				break more
			}
		}
		p.commit(ctx, group)
		if p.sinceSave >= p.cfg.FlushEvents || (p.sinceSave > 0 && time.Since(p.lastSave) >= p.cfg.FlushInterval) {
			p.saveAndReport(ctx)
		}
	}
}

// catchUp applies the journal past the applied position.
func (p *Pipeline) catchUp(ctx context.Context) (int, error) {
	var d decode.Decoder
	n := 0
	for {
		evs, err := p.store.EventsAfter(ctx, p.cfg.Cluster, p.applied, 5000)
		if err != nil {
			return n, err
		}
		if len(evs) == 0 {
			return n, nil
		}
		for _, je := range evs {
			d.Decode(je.Body, func(ev *decode.Event) { p.apply(ev) })
			p.applied = je.Seq
			n++
		}
	}
}

// commit journals a group of batches in one transaction, acknowledges them
// and applies the new events.
func (p *Pipeline) commit(ctx context.Context, group []submission) {
	if p.cfg.SharedJournal {
		// after this group (or on a tick, with none): what every replica journaled
		defer func() {
			if _, err := p.catchUp(ctx); err != nil {
				p.Stats.Errors.Add(1)
				p.setErr(err)
				p.log.Error("read shared journal", "err", err)
			}
		}()
	}
	if len(group) == 0 {
		return
	}
	var total int
	for _, s := range group {
		total += len(s.batch.Events)
	}
	js := make([]podtrace.JournalEvent, 0, total)
	for _, s := range group {
		for _, ev := range s.batch.Events {
			js = append(js, p.journalEvent(ev))
		}
	}
	var added []bool
	var err error
	if total > 0 {
		added, err = p.store.AppendEvents(ctx, js)
	}
	for _, s := range group {
		p.Stats.Queued.Add(-int64(len(s.batch.Events)))
		if s.reply != nil {
			s.reply <- err
		}
	}
	if err != nil {
		p.Stats.Errors.Add(1)
		p.setErr(err)
		p.log.Error("journal append failed", "err", err)
	}
	i := 0
	for _, s := range group {
		if s.fn != nil {
			s.fn(p.machine)
			p.sinceSave++
			continue
		}
		if err != nil {
			continue
		}
		for _, ev := range s.batch.Events {
			if added[i] {
				p.Stats.Journaled.Add(1)
				if !p.cfg.SharedJournal {
					p.apply(ev)
					p.applied = js[i].Seq
				}
			} else {
				p.Stats.Duplicates.Add(1)
			}
			i++
		}
		for k, v := range s.batch.Offsets {
			p.offsets[k] = v
		}
	}
}

func (p *Pipeline) journalEvent(ev *decode.Event) podtrace.JournalEvent {
	uid, ns, name := lifecycle.Identify(ev)
	return podtrace.JournalEvent{Cluster: p.cfg.Cluster, Key: ev.Key(), UID: uid, Namespace: ns, Name: name, Time: ev.Time, Body: ev.Raw}
}

func (p *Pipeline) apply(ev *decode.Event) {
	switch err := p.machine.Apply(ev); {
	case err == nil:
		p.Stats.Applied.Add(1)
	case errors.Is(err, lifecycle.ErrNoRule):
		p.Stats.Unmatched.Add(1)
	default:
		p.Stats.Errors.Add(1)
		p.log.Warn("apply event", "audit_id", ev.AuditID, "err", err)
	}
	p.sinceSave++
}

func (p *Pipeline) saveAndReport(ctx context.Context) {
	if err := p.save(ctx); err != nil {
		p.Stats.Errors.Add(1)
		p.setErr(err)
		p.log.Error("save failed", "err", err)
		return
	}
	p.setErr(nil)
}

// save derives, analyses and saves the records of every changed pod, then
// lets finished and idle pods leave memory.
func (p *Pipeline) save(ctx context.Context) error {
	pods := p.machine.Dirty()
	now := p.machine.Now()
	c := podtrace.Commit{Cluster: p.cfg.Cluster, Applied: p.applied, Offsets: p.offsets}
	type closure struct {
		pod *lifecycle.Pod
		rec podtrace.Record
	}
	var closed []closure
	for _, pod := range pods {
		recs := pod.Records(p.cfg.Cluster)
		for _, a := range p.analyzers {
			a.Analyze(pod, recs, now)
		}
		for i := range recs {
			if recs[i].Finished != nil && pod.MarkReported(recordKey(&recs[i])) {
				closed = append(closed, closure{pod, recs[i]})
			}
		}
		state, err := json.Marshal(pod)
		if err != nil {
			return fmt.Errorf("encode pod %s: %w", pod.UID, err)
		}
		c.Pods = append(c.Pods, podtrace.PodState{Cluster: p.cfg.Cluster, UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name, Created: pod.CreatedNano(), LastSeen: pod.LastSeen, State: state})
		c.Records = append(c.Records, recs...)
	}
	if err := p.store.Save(ctx, c); err != nil {
		p.machine.MarkDirty(pods)
		return err
	}
	p.offsets = map[string]int64{}
	p.Stats.Records.Add(int64(len(c.Records)))
	p.Stats.Flushes.Add(1)
	p.sinceSave = 0
	p.lastSave = time.Now()
	if p.onClose != nil {
		for i := range closed {
			p.onClose(closed[i].pod, &closed[i].rec)
		}
	}
	p.machine.Evict()
	p.Stats.OpenPods.Store(int64(p.machine.Len()))
	p.Stats.Pods.Store(p.machine.Stats.Pods)
	p.Stats.ClockAhead.Store(p.machine.Stats.ClockAhead)
	p.Stats.Clock.Store(now.UnixNano())
	return nil
}

func recordKey(r *podtrace.Record) string {
	return fmt.Sprintf("%s/%d", r.Kind, r.Seq)
}

// loader restores pods from the store for the machine.
type loader struct{ p *Pipeline }

func (l loader) LoadPod(uid string) (*lifecycle.Pod, error) {
	st, err := l.p.store.LoadPod(context.Background(), l.p.cfg.Cluster, uid)
	if errors.Is(err, podtrace.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pod lifecycle.Pod
	if err := json.Unmarshal(st.State, &pod); err != nil {
		return nil, fmt.Errorf("decode pod state %s: %w", uid, err)
	}
	return &pod, nil
}

func (l loader) PodsNamed(namespace, name string) ([]lifecycle.Incarnation, error) {
	sts, err := l.p.store.PodsNamed(context.Background(), l.p.cfg.Cluster, namespace, name)
	if err != nil {
		return nil, err
	}
	out := make([]lifecycle.Incarnation, len(sts))
	for i, st := range sts {
		out[i] = lifecycle.Incarnation{UID: st.UID, Created: st.Created}
	}
	return out, nil
}
