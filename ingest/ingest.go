// Package ingest is podtrace's pipeline: it journals decoded audit events
// durably, applies them to the lifecycle machine, runs the analyses on the
// pods that changed and saves their states and records.
//
// Two goroutines share the work. The journal goroutine takes the batches
// sources hand over through Enqueue and commits them to the journal (group
// commit: batches waiting together share a transaction); a batch is
// acknowledged then, once durable, before it is applied. It passes the
// committed events on to the apply goroutine, which owns the lifecycle
// machine: it applies them, runs the analyses and saves states and records
// every FlushInterval with the journal position they reflect, so after a
// crash the pipeline re-applies only the journal's tail: no acknowledged
// event is lost and none is applied twice to what was saved. A slow save
// therefore never holds up an acknowledgement longer than its own write
// transaction, and decoding, applying and saving use a second core.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
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
	// QueueEvents bounds the events accepted but not applied yet (waiting
	// to be journaled, or journaled and waiting to be applied), and
	// QueueBytes their raw bytes (what the events hold in memory grows with
	// them, and audit events differ in size by two orders of magnitude);
	// beyond either, a non-blocking Enqueue fails with ErrOverloaded and a
	// blocking one waits for room: a source that waits (a file replay) is
	// held back, never buffered.
	QueueEvents int
	QueueBytes  int64
	// FlushInterval is how often states and records are saved.
	FlushInterval time.Duration
	// FlushEvents saves early after this many applied events.
	FlushEvents int
	// SavePods bounds the pods saved in one write transaction: a save of
	// many changed pods is split into parts (see podtrace.Commit.Partial),
	// so the journal's appends, which share SQLite's one writer, never wait
	// long behind a save.
	SavePods int
	// SharedJournal is for replicas of one cluster on one shared store
	// (see package postgres): the pipeline applies the cluster's whole
	// journal in seq order, its own events and those other replicas
	// journaled, instead of only the events it journaled itself.
	SharedJournal bool
	Lifecycle     lifecycle.Config
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Cluster: "default", QueueEvents: 200_000, QueueBytes: 32 << 20, FlushInterval: 100 * time.Millisecond, FlushEvents: 100_000, SavePods: 32, Lifecycle: lifecycle.DefaultConfig()}
}

// EntryHandler is an Analyzer that owns a kind of journal entry other than
// audit events: component spans (package correlate). Sources journal such
// entries with Enqueue (Batch.Kind and Batch.Entries), acknowledged once
// durable like audit events; the apply goroutine hands them to
// ApplyEntries in journal order, with their seqs. After a restart the
// entries from Oldest on are applied again (entries are applied once into
// state that is saved, but may also wait in memory, e.g. spans held for a
// pod not seen yet), so ApplyEntries must be idempotent. A pipeline finds
// its handlers among its analyzers.
type EntryHandler interface {
	Analyzer
	// EntryKind names the kind: letters only, unique in a pipeline.
	EntryKind() string
	ApplyEntries(m *lifecycle.Machine, entries []podtrace.JournalEvent)
	// Oldest is the seq of the oldest applied entry still kept only in
	// memory; 0 if none.
	Oldest() int64
}

// AuditObserver is an Analyzer told of every audit event applied, with the
// uid of the pod the event names ("" when it names its pod only by name),
// on the apply goroutine: what the event proves is known at once, not at
// the next save. A pipeline finds its observers among its analyzers.
type AuditObserver interface {
	Analyzer
	ObserveAudit(m *lifecycle.Machine, ev *decode.Event, uid string)
}

// Batch is a set of decoded events from one source delivery (a webhook
// request, a chunk of a file), or of entries of one kind (Kind, Entries:
// Key unique within the kind, Time, Body; the pipeline sets the rest).
type Batch struct {
	Events  []*decode.Event
	Kind    string
	Entries []podtrace.JournalEvent
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
	Records    atomic.Int64 // record writes: a record is written at every save while its pod changes
	Finished   atomic.Int64 // records that finished, each counted once (see lifecycle.Pod.MarkReported)
	Flushes    atomic.Int64
	OpenPods   atomic.Int64 // pods in memory
	Pods       atomic.Int64 // pods first seen since start
	Queued     atomic.Int64 // events accepted and not applied yet
	QueuedSize atomic.Int64 // their raw bytes
	Errors     atomic.Int64 // store errors
	ClockAhead atomic.Int64 // events too far ahead to move the event clock alone (lifecycle.Config.MaxClockStep)
	Clock      atomic.Int64 // the event clock at the last save, unix ns
	// audit events held for a pod not known yet (lifecycle.Machine), at
	// the last save: waiting, and dropped at the bound or after IdleAfter
	Held, HeldDropped, HeldExpired atomic.Int64
}

type submission struct {
	batch Batch
	size  int64 // the batch's raw bytes (Batch.size)
	reply chan error
	fn    func(m *lifecycle.Machine) // set by Submit instead of batch/reply
}

// committed is a group of submissions on its way from the journal
// goroutine to the apply goroutine.
type committed struct {
	group []submission
	js    []podtrace.JournalEvent // the group's events, with their seqs
	added []bool                  // which were new to the journal
	err   error                   // the journal append failed: apply none
}

// Pipeline is the ingest pipeline. Create with New, then Start.
type Pipeline struct {
	cfg       Config
	store     podtrace.Store
	machine   *lifecycle.Machine
	analyzers []Analyzer
	handlers  map[string]EntryHandler // by kind
	observers []AuditObserver
	onClose   func(p *lifecycle.Pod, r *podtrace.Record)
	log       *slog.Logger
	subs      chan submission
	applyq    chan committed // journal goroutine → apply goroutine
	stop      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
	Stats     Stats
	roomMu    sync.Mutex
	room      chan struct{} // closed (and replaced) when applied events leave the queue

	// owned by the apply goroutine (and by Start before it runs)
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
		subs: make(chan submission, 1024), applyq: make(chan committed, 16),
		stop: make(chan struct{}), done: make(chan struct{}), room: make(chan struct{}),
		offsets: map[string]int64{}, handlers: map[string]EntryHandler{},
	}
	for _, a := range analyzers {
		if h, ok := a.(EntryHandler); ok {
			p.handlers[h.EntryKind()] = h
		}
		if o, ok := a.(AuditObserver); ok {
			p.observers = append(p.observers, o)
		}
	}
	p.machine = lifecycle.New(cfg.Lifecycle, loader{p})
	return p
}

// entryKind is the handled kind of a journal key, or "" for an audit event
// (whose keys are "<auditID>/<stage>").
func (p *Pipeline) entryKind(key string) string {
	i := strings.IndexByte(key, ':')
	if i <= 0 {
		return ""
	}
	if _, ok := p.handlers[key[:i]]; !ok {
		return ""
	}
	return key[:i]
}

// Start recovers from the journal (re-applying events after the last saved
// position) and starts the pipeline goroutine.
func (p *Pipeline) Start(ctx context.Context) error {
	applied, err := p.store.Applied(ctx, p.cfg.Cluster)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	p.applied = applied
	if err := p.reapplyHeld(ctx); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
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
	go p.journal()
	go p.run()
	return nil
}

// Enqueue hands a batch to the pipeline. With block false it fails at once
// with ErrOverloaded when the queue is full; with block true it waits for
// room (the queue's bounds hold for both). The returned channel receives
// nil once the batch is durable in the journal, or the error that stopped
// it.
func (p *Pipeline) Enqueue(ctx context.Context, b Batch, block bool) (<-chan error, error) {
	if len(b.Entries) > 0 {
		if _, ok := p.handlers[b.Kind]; !ok {
			return nil, fmt.Errorf("ingest: no handler for entries of kind %q", b.Kind)
		}
	}
	n, size := int64(len(b.Events)+len(b.Entries)), b.size()
	if !block && p.full(n, size) {
		p.Stats.Overloaded.Add(n)
		return nil, ErrOverloaded
	}
	if block {
		if err := p.waitRoom(ctx, n, size); err != nil {
			return nil, err
		}
	}
	reply := make(chan error, 1)
	s := submission{batch: b, size: size, reply: reply}
	p.Stats.Queued.Add(n)
	p.Stats.QueuedSize.Add(size)
	if block {
		select {
		case p.subs <- s:
		case <-ctx.Done():
			p.unqueue(n, size)
			return nil, ctx.Err()
		case <-p.stop:
			p.unqueue(n, size)
			return nil, ErrClosed
		}
	} else {
		select {
		case p.subs <- s:
		case <-p.stop:
			p.unqueue(n, size)
			return nil, ErrClosed
		default:
			p.unqueue(n, size)
			p.Stats.Overloaded.Add(n)
			return nil, ErrOverloaded
		}
	}
	p.Stats.Enqueued.Add(n)
	return reply, nil
}

// size is the raw bytes of the batch's events and entries: what the queue
// bound counts.
func (b *Batch) size() int64 {
	var n int
	for _, ev := range b.Events {
		n += len(ev.Raw)
	}
	for i := range b.Entries {
		n += len(b.Entries[i].Body)
	}
	return int64(n)
}

// full reports whether n more events of size raw bytes would pass a queue
// bound. An empty queue takes any batch, so that one larger than the
// bounds is not refused forever.
func (p *Pipeline) full(n, size int64) bool {
	queued := p.Stats.Queued.Load()
	if queued <= 0 {
		return false
	}
	return queued+n > int64(p.cfg.QueueEvents) || (p.cfg.QueueBytes > 0 && p.Stats.QueuedSize.Load()+size > p.cfg.QueueBytes)
}

// waitRoom waits until n events of size bytes fit in the queue.
func (p *Pipeline) waitRoom(ctx context.Context, n, size int64) error {
	for {
		p.roomMu.Lock()
		room := p.room
		p.roomMu.Unlock()
		if !p.full(n, size) {
			return nil
		}
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.stop:
			return ErrClosed
		}
	}
}

// unqueue takes events out of the queue (applied, or never let in) and
// wakes the sources waiting for room.
func (p *Pipeline) unqueue(n, size int64) {
	p.Stats.Queued.Add(-n)
	p.Stats.QueuedSize.Add(-size)
	p.roomMu.Lock()
	close(p.room)
	p.room = make(chan struct{})
	p.roomMu.Unlock()
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

// journal is the journal goroutine: it commits groups of submissions and
// hands them to the apply goroutine, in order. When the apply goroutine
// falls behind, applyq fills, journal waits, subs fills and non-blocking
// sources get ErrOverloaded: the queue bound holds end to end.
func (p *Pipeline) journal() {
	defer close(p.applyq)
	ctx := context.Background()
	for {
		var group []submission
		select {
		case s := <-p.subs:
			group = append(group, s)
		case <-p.stop:
			// drain what is already queued, then leave
			for {
				select {
				case s := <-p.subs:
					group = append(group, s)
					continue
				default:
				}
				break
			}
			if len(group) > 0 {
				p.applyq <- p.commit(ctx, group)
			}
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
		p.applyq <- p.commit(ctx, group)
	}
}

// commit journals a group of batches in one transaction and acknowledges
// them.
func (p *Pipeline) commit(ctx context.Context, group []submission) committed {
	var total int
	for _, s := range group {
		total += len(s.batch.Events) + len(s.batch.Entries)
	}
	c := committed{group: group, js: make([]podtrace.JournalEvent, 0, total)}
	for _, s := range group {
		for _, ev := range s.batch.Events {
			c.js = append(c.js, p.journalEvent(ev))
		}
		for _, e := range s.batch.Entries {
			c.js = append(c.js, podtrace.JournalEvent{Cluster: p.cfg.Cluster, Key: s.batch.Kind + ":" + e.Key, Time: e.Time, Body: e.Body})
		}
	}
	if total > 0 {
		c.added, c.err = p.store.AppendEvents(ctx, c.js)
	}
	// the audit events' raw bytes are in the journal now (or refused with
	// the group): waiting to be applied, they need only what was decoded
	// from them (entries are applied from their bodies)
	i := 0
	for _, s := range group {
		for _, ev := range s.batch.Events {
			ev.Raw, c.js[i].Body = nil, nil
			i++
		}
		i += len(s.batch.Entries)
	}
	for _, s := range group {
		if s.reply != nil {
			s.reply <- c.err
		}
	}
	if c.err != nil {
		p.Stats.Errors.Add(1)
		p.setErr(c.err)
		p.log.Error("journal append failed", "err", c.err)
	}
	return c
}

// run is the apply goroutine: it applies what the journal goroutine
// committed and saves on time.
func (p *Pipeline) run() {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.FlushInterval)
	defer tick.Stop()
	ctx := context.Background()
	for {
		select {
		case c, ok := <-p.applyq:
			if !ok {
				// the journal goroutine has drained and left
				if p.cfg.SharedJournal {
					p.catchUpAndReport(ctx)
				}
				p.saveAndReport(ctx)
				return
			}
			p.applyCommitted(c)
			// take what else is committed before a shared catch-up or a save
		more:
			for n := 0; n < 64; n++ {
				select {
				case c, ok := <-p.applyq:
					if !ok {
						break more
					}
					p.applyCommitted(c)
				default:
					break more
				}
			}
		case <-tick.C:
		}
		if p.cfg.SharedJournal {
			// what every replica journaled, this one's included
			p.catchUpAndReport(ctx)
		}
		if p.sinceSave >= p.cfg.FlushEvents || (p.sinceSave > 0 && time.Since(p.lastSave) >= p.cfg.FlushInterval) {
			p.saveAndReport(ctx)
		}
	}
}

// catchUp applies the journal past the applied position.
func (p *Pipeline) catchUp(ctx context.Context) (int, error) {
	var d decode.Decoder
	var run entryRun
	n := 0
	err := p.readJournal(ctx, p.applied, math.MaxInt64, func(je podtrace.JournalEvent) {
		if kind := p.entryKind(je.Key); kind != "" {
			run.add(p, kind, je)
		} else {
			run.flush(p)
			d.Decode(je.Body, func(ev *decode.Event) { p.apply(ev, je.Seq, je.UID) })
		}
		p.applied = je.Seq
		n++
	}, run.flush)
	return n, err
}

// reapplyHeld restores, after a restart, what was applied up to the
// applied position but kept only in memory, from the journal's oldest such
// entry (Commit.Held) on (what comes after the position, catchUp applies):
// handlers' entries are applied again (ApplyEntries is idempotent), and the
// audit events that name their pod only by name wait again for it unless
// it is known (lifecycle.Machine.Rehold). Other audit events are in the
// saved pods already and are not read.
func (p *Pipeline) reapplyHeld(ctx context.Context) error {
	from, err := p.store.Offset(ctx, podtrace.HeldOffset(p.cfg.Cluster))
	if err != nil || from <= 0 {
		return err
	}
	var d decode.Decoder
	var run entryRun
	var rerr error
	err = p.readJournal(ctx, from-1, p.applied, func(je podtrace.JournalEvent) {
		if kind := p.entryKind(je.Key); kind != "" {
			run.add(p, kind, je)
			return
		}
		if je.UID != "" || rerr != nil {
			return
		}
		d.Decode(je.Body, func(ev *decode.Event) {
			if _, err := p.machine.Rehold(ev, je.Seq); err != nil {
				rerr = err
			}
		})
	}, run.flush)
	return errors.Join(err, rerr)
}

// readJournal calls fn for the cluster's journal events after seq after, up
// to through, in order, a page at a time; endPage runs after each page
// (what fn gathered must not outlive it).
func (p *Pipeline) readJournal(ctx context.Context, after, through int64, fn func(podtrace.JournalEvent), endPage func(*Pipeline)) error {
	for after < through {
		evs, err := p.store.EventsAfter(ctx, p.cfg.Cluster, after, 5000)
		if err != nil || len(evs) == 0 {
			return err
		}
		for _, je := range evs {
			if je.Seq > through {
				break
			}
			fn(je)
		}
		endPage(p)
		after = evs[len(evs)-1].Seq
	}
	return nil
}

// entryRun gathers consecutive journal entries of one kind, to hand them to
// their handler together, in journal order.
type entryRun struct {
	kind    string
	entries []podtrace.JournalEvent
}

func (r *entryRun) add(p *Pipeline, kind string, je podtrace.JournalEvent) {
	if kind != r.kind {
		r.flush(p)
		r.kind = kind
	}
	je.Key = je.Key[len(kind)+1:]
	r.entries = append(r.entries, je)
}

func (r *entryRun) flush(p *Pipeline) {
	if len(r.entries) > 0 {
		p.handlers[r.kind].ApplyEntries(p.machine, r.entries)
		p.sinceSave += len(r.entries)
	}
	r.kind, r.entries = "", nil
}

func (p *Pipeline) catchUpAndReport(ctx context.Context) {
	if _, err := p.catchUp(ctx); err != nil {
		p.Stats.Errors.Add(1)
		p.setErr(err)
		p.log.Error("read shared journal", "err", err)
	}
}

// applyCommitted applies a committed group's new events (with a shared
// journal, catchUp applies them instead, in the journal's order) and runs
// its submitted functions.
func (p *Pipeline) applyCommitted(c committed) {
	i := 0
	for _, s := range c.group {
		n := len(s.batch.Events) + len(s.batch.Entries)
		if s.fn != nil {
			s.fn(p.machine)
			p.sinceSave++
			continue
		}
		if c.err == nil && len(s.batch.Entries) > 0 {
			var run entryRun
			for range s.batch.Entries {
				if c.added[i] {
					p.Stats.Journaled.Add(1)
					if !p.cfg.SharedJournal {
						run.add(p, s.batch.Kind, c.js[i])
						p.applied = c.js[i].Seq
					}
				} else {
					p.Stats.Duplicates.Add(1)
				}
				i++
			}
			run.flush(p)
		}
		if c.err == nil {
			for _, ev := range s.batch.Events {
				if c.added[i] {
					p.Stats.Journaled.Add(1)
					if !p.cfg.SharedJournal {
						p.apply(ev, c.js[i].Seq, c.js[i].UID)
						p.applied = c.js[i].Seq
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
		p.unqueue(int64(n), s.size)
	}
}

func (p *Pipeline) journalEvent(ev *decode.Event) podtrace.JournalEvent {
	uid, ns, name := lifecycle.Identify(ev)
	return podtrace.JournalEvent{Cluster: p.cfg.Cluster, Key: ev.Key(), UID: uid, Namespace: ns, Name: name, Time: ev.Time, Body: ev.Raw}
}

// apply applies ev, journaled at seq naming the pod uid ("" if by name).
func (p *Pipeline) apply(ev *decode.Event, seq int64, uid string) {
	switch err := p.machine.ApplySeq(ev, seq); {
	case err == nil:
		p.Stats.Applied.Add(1)
		if uid != "" {
			for _, o := range p.observers {
				o.ObserveAudit(p.machine, ev, uid)
			}
		}
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

// revisitEvery is how often, in event time, a silent pod with an open
// delivery is analysed again (lifecycle.Machine.Revisit), so that a stuck
// delivery gets its findings without news about its pod.
const revisitEvery = 10 * time.Second

// save derives, analyses and saves the records of every changed pod (and of
// the open pods due a revisit), then lets finished and idle pods leave
// memory. Many changed pods are saved in parts of SavePods pods; only the
// last part moves the applied position.
func (p *Pipeline) save(ctx context.Context) error {
	p.machine.Revisit(revisitEvery)
	pods := p.machine.Dirty()
	now := p.machine.Now()
	var closed []closure
	states := make([]podtrace.PodState, 0, len(pods))
	var recs []podtrace.Record
	ends := make([]int, 0, len(pods)) // ends[i]: end of pods[i]'s records in recs
	// a save that fails leaves every pod dirty for the next one, which
	// reports what this one could not
	fail := func(stored int, err error) error {
		p.machine.MarkDirty(pods)
		p.closeRecords(closed, stored)
		return err
	}
	for at, pod := range pods {
		prs := pod.Records(p.cfg.Cluster)
		for _, a := range p.analyzers {
			a.Analyze(pod, prs, now)
		}
		for i := range prs {
			if prs[i].Finished != nil && pod.MarkReported(recordKey(&prs[i])) {
				closed = append(closed, closure{pod, prs[i], at})
			}
		}
		state, err := json.Marshal(pod)
		if err != nil {
			return fail(0, fmt.Errorf("encode pod %s: %w", pod.UID, err))
		}
		states = append(states, podtrace.PodState{Cluster: p.cfg.Cluster, UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name, Created: pod.CreatedNano(), LastSeen: pod.LastSeen, State: state})
		recs = append(recs, prs...)
		ends = append(ends, len(recs))
	}
	size := p.cfg.SavePods
	if size <= 0 {
		size = len(states)
	}
	for from := 0; ; from += size {
		to := min(from+size, len(states))
		c := podtrace.Commit{Cluster: p.cfg.Cluster, Pods: states[from:to], Applied: p.applied, Partial: to < len(states)}
		if to > from {
			r0 := 0
			if from > 0 {
				r0 = ends[from-1]
			}
			c.Records = recs[r0:ends[to-1]]
		}
		if !c.Partial {
			c.Offsets = p.offsets
			c.Held = p.oldestHeld()
		}
		if err := p.store.Save(ctx, c); err != nil {
			return fail(from, err)
		}
		if !c.Partial {
			break
		}
	}
	p.offsets = map[string]int64{}
	p.Stats.Records.Add(int64(len(recs)))
	p.Stats.Flushes.Add(1)
	p.sinceSave = 0
	p.lastSave = time.Now()
	p.closeRecords(closed, len(pods))
	p.machine.Evict()
	p.Stats.OpenPods.Store(int64(p.machine.Len()))
	p.Stats.Pods.Store(p.machine.Stats.Pods)
	p.Stats.ClockAhead.Store(p.machine.Stats.ClockAhead)
	p.Stats.Held.Store(p.machine.Stats.Waiting)
	p.Stats.HeldDropped.Store(p.machine.Stats.DroppedWaiting)
	p.Stats.HeldExpired.Store(p.machine.Stats.ExpiredWaiting)
	p.Stats.Clock.Store(now.UnixNano())
	return nil
}

// closure is a record that finished, found closed by a save: pods[at] of
// the save is its pod.
type closure struct {
	pod *lifecycle.Pod
	rec podtrace.Record
	at  int
}

// closeRecords reports the records a save found closed, once each: those
// of its first stored pods (all of them when it succeeded) are counted and
// handed to onClose; for the others, whose pods a failed save did not store,
// the mark is taken back, so the save that stores them reports them.
func (p *Pipeline) closeRecords(closed []closure, stored int) {
	for i := range closed {
		c := &closed[i]
		if c.at >= stored {
			c.pod.UnmarkReported(recordKey(&c.rec))
			continue
		}
		p.Stats.Finished.Add(1)
		if p.onClose != nil {
			p.onClose(c.pod, &c.rec)
		}
	}
}

// oldestHeld is the seq of the oldest journal entry any handler, or the
// lifecycle machine, keeps only in memory, 0 if none.
func (p *Pipeline) oldestHeld() int64 {
	oldest := p.machine.OldestHeld()
	for _, h := range p.handlers {
		if o := h.Oldest(); o > 0 && (oldest == 0 || o < oldest) {
			oldest = o
		}
	}
	return oldest
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

func (l loader) EventUID(key string) (string, error) {
	uid, err := l.p.store.EventUID(context.Background(), l.p.cfg.Cluster, key)
	if errors.Is(err, podtrace.ErrNotFound) {
		return "", nil
	}
	return uid, err
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
