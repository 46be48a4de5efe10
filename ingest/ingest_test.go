package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/ingest"
	"github.com/podtrace/podtrace/lifecycle"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/storetest"
)

// crashingStore is a real SQLite store that dies (every call fails) when a
// save in parts comes to its last part, the one that moves the applied
// position: the moment a kill -9 would leave most pods saved past the
// applied position the store still holds.
type crashingStore struct {
	*sqlite.Store
	parts int
	dead  atomic.Bool
}

var errDead = errors.New("process killed")

func (s *crashingStore) Save(ctx context.Context, c podtrace.Commit) error {
	if s.dead.Load() {
		return errDead
	}
	if c.Partial {
		s.parts++
	} else if s.parts > 0 {
		s.dead.Store(true)
		return errDead
	}
	return s.Store.Save(ctx, c)
}

func (s *crashingStore) AppendEvents(ctx context.Context, evs []podtrace.JournalEvent) ([]bool, error) {
	if s.dead.Load() {
		return nil, errDead
	}
	return s.Store.AppendEvents(ctx, evs)
}

// TestRecoverAfterPartialSave: a save split in parts dies after its first
// part, so some pods are stored past the applied position. Recovery
// re-applies the journal's tail; the pods saved early must not get their
// events twice: the records must equal what the machine derives in memory.
func TestRecoverAfterPartialSave(t *testing.T) {
	ctx := context.Background()
	evs := storetest.CaptureEvents(t)
	path := filepath.Join(t.TempDir(), "p.db")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := ingest.DefaultConfig()
	cfg.Cluster = "c"
	cfg.SavePods = 1 << 20        // the first save in one part
	cfg.FlushInterval = time.Hour // saves only when asked: at Close

	raw, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := &crashingStore{Store: raw}
	p := ingest.New(cfg, st, nil, nil, log)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// a first complete save, then more events whose save dies after a part
	half := len(evs) / 2
	for i, part := range [][]*decode.Event{evs[:half], evs[half:]} {
		storetest.Journal(t, p, part)
		if i == 0 {
			// a restart saves everything at Close; reopen to save at this point
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			cfg.SavePods = 3 // the second in parts
			p = ingest.New(cfg, st, nil, nil, log)
			if err := p.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.Close() // the save dies before its last part
	if !st.dead.Load() {
		t.Fatal("the second save was not split in parts: the test proves nothing")
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	// restart on the same database: recovery applies the journal's tail
	again, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	applied, err := again.Applied(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if applied == 0 {
		t.Fatal("no applied position from the first save")
	}
	p = ingest.New(cfg, again, nil, nil, log)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	storetest.CheckRecords(t, again, "c", evs)
}

// TestHeldAcrossRestart: an event that names its pod only by name (an
// eviction) arrives before the pod does, so the machine holds it; podtrace
// restarts before the pod's events come. The held event is journaled and
// acknowledged: after the restart it must still be applied when its pod
// appears, as if there had been no restart.
func TestHeldAcrossRestart(t *testing.T) {
	ctx := context.Background()
	evs := storetest.CaptureEvents(t)
	var early *decode.Event
	var rest []*decode.Event
	for _, ev := range evs {
		if uid, _, _ := lifecycle.Identify(ev); uid == "" && ev.Ref.Subresource == "eviction" && early == nil {
			early = ev
			continue
		}
		rest = append(rest, ev)
	}
	if early == nil {
		t.Fatal("no eviction in the capture")
	}
	path := filepath.Join(t.TempDir(), "p.db")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := ingest.DefaultConfig()
	cfg.Cluster = "c"
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, batch := range [][]*decode.Event{{early}, rest} {
		p := ingest.New(cfg, st, nil, nil, log)
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		storetest.Journal(t, p, batch)
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if len(batch) == 1 && p.Stats.Held.Load() != 1 {
			t.Fatalf("the eviction was not held: %d held", p.Stats.Held.Load())
		}
	}
	storetest.CheckRecords(t, st, "c", append([]*decode.Event{early}, rest...))
}

// failingStore is a real SQLite store that fails the first save of every
// record that has finished, as a store that is briefly unreachable does:
// each finished record's first save is lost, and must be made again.
type failingStore struct {
	*sqlite.Store
	tried map[string]bool // finished records a save was tried for
	// read once the pipeline is closed
	failed      int // saves failed
	afterStored int // of them, parts that failed after a part of the same save was stored
	stored      bool
}

func (s *failingStore) Save(ctx context.Context, c podtrace.Commit) error {
	first := false
	for _, r := range c.Records {
		if k := fmt.Sprint(r.Key()); r.Finished != nil && !s.tried[k] {
			s.tried[k], first = true, true
		}
	}
	if first {
		s.failed++
		if s.stored {
			s.afterStored++
		}
		s.stored = false
		return errors.New("store unreachable")
	}
	err := s.Store.Save(ctx, c)
	s.stored = err == nil && c.Partial
	return err
}

// TestFinishedOnceAcrossFailedSaves: every record that finishes is
// reported (counted in Stats.Finished, handed to onClose) exactly once,
// though the first save of each fails, some after a part of the same save
// was stored: a failed save must neither lose the records it found closed
// nor report them twice.
func TestFinishedOnceAcrossFailedSaves(t *testing.T) {
	ctx := context.Background()
	evs := storetest.CaptureEvents(t)
	raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "f.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// the pipeline saves on its own goroutine: the store is only read
	// here once Close has returned
	st := &failingStore{Store: raw, tried: map[string]bool{}}
	cfg := ingest.DefaultConfig()
	cfg.Cluster = "c"
	cfg.SavePods = 1    // saves in parts: a failure can come after some are stored
	cfg.FlushEvents = 5 // and many saves
	reported := map[string]int{}
	p := ingest.New(cfg, st, nil, func(_ *lifecycle.Pod, r *podtrace.Record) {
		reported[fmt.Sprint(r.Key())]++
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(evs); i += 5 {
		storetest.Journal(t, p, evs[i:min(i+5, len(evs))])
	}
	// a failed save is made again at the next tick; the save at Close is
	// not, so wait for one that succeeds after the last event is applied
	// (a function submitted runs after it, and asks for a save)
	var flushes int64
	ran := make(chan struct{})
	if err := p.Submit(ctx, func(*lifecycle.Machine) { flushes = p.Stats.Flushes.Load(); close(ran) }, true); err != nil {
		t.Fatal(err)
	}
	<-ran
	for deadline := time.Now().Add(30 * time.Second); p.Stats.Flushes.Load() == flushes || p.Healthy() != nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no save succeeded after the last event: %v", p.Healthy())
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if st.failed == 0 || st.afterStored == 0 {
		t.Fatalf("%d saves failed, %d after a part was stored: the failures the test needs did not happen", st.failed, st.afterStored)
	}

	recs, _, err := raw.Records(ctx, podtrace.RecordFilter{Cluster: "c", Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	finished := 0
	for _, r := range recs {
		if r.Finished == nil {
			continue
		}
		finished++
		if k := fmt.Sprint(r.Key()); reported[k] != 1 {
			t.Errorf("record %s reported %d times", k, reported[k])
		}
	}
	if finished == 0 || len(reported) != finished || p.Stats.Finished.Load() != int64(finished) {
		t.Errorf("%d finished records stored, %d reported, Stats.Finished %d", finished, len(reported), p.Stats.Finished.Load())
	}
	storetest.CheckRecords(t, raw, "c", evs)
}

// gatedStore is a real SQLite store whose journal appends wait until gate
// is closed, and which notes the most raw bytes queued at any append.
type gatedStore struct {
	*sqlite.Store
	gate   chan struct{}
	p      atomic.Pointer[ingest.Pipeline]
	queued atomic.Int64 // the most Stats.QueuedSize seen by an append
}

func (s *gatedStore) AppendEvents(ctx context.Context, evs []podtrace.JournalEvent) ([]bool, error) {
	if p := s.p.Load(); p != nil {
		if q := p.Stats.QueuedSize.Load(); q > s.queued.Load() {
			s.queued.Store(q)
		}
	}
	<-s.gate
	return s.Store.AppendEvents(ctx, evs)
}

// TestBlockingEnqueueWaitsForRoom: a source that blocks (a file replay) is
// held at the queue's byte bound instead of queueing past it, and one whose
// context ends while it waits gets the context's error.
func TestBlockingEnqueueWaitsForRoom(t *testing.T) {
	ctx := context.Background()
	evs := storetest.CaptureEvents(t)
	raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	st := &gatedStore{Store: raw, gate: make(chan struct{})}
	batches := [][]*decode.Event{evs[:10], evs[10:20], evs[20:30], evs[30:40]}
	var bound int64
	for _, ev := range evs[:20] {
		bound += int64(len(ev.Raw))
	}
	cfg := ingest.DefaultConfig()
	cfg.Cluster = "c"
	cfg.QueueBytes = bound // room for the first two batches
	p := ingest.New(cfg, st, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	st.p.Store(p)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, b := range batches[:2] {
		if _, err := p.Enqueue(ctx, ingest.Batch{Events: b}, true); err != nil {
			t.Fatal(err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Enqueue(cancelled, ingest.Batch{Events: batches[2]}, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("blocking Enqueue on a full queue with its context ended: %v, want context.Canceled", err)
	}
	if _, err := p.Enqueue(ctx, ingest.Batch{Events: batches[2]}, false); !errors.Is(err, ingest.ErrOverloaded) {
		t.Fatalf("non-blocking Enqueue on a full queue: %v, want ErrOverloaded", err)
	}
	rest := make(chan error, 1)
	go func() {
		for _, b := range batches[2:] {
			done, err := p.Enqueue(ctx, ingest.Batch{Events: b}, true)
			if err == nil {
				err = <-done
			}
			if err != nil {
				rest <- err
				return
			}
		}
		rest <- nil
	}()
	close(st.gate)
	if err := <-rest; err != nil {
		t.Fatal(err)
	}
	if q := st.queued.Load(); q > bound {
		t.Errorf("%d raw bytes queued at once, bound %d", q, bound)
	}
	if got := p.Stats.Enqueued.Load(); got != 40 {
		t.Errorf("%d events enqueued, want 40", got)
	}
}
