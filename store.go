package podtrace

import (
	"context"
	"errors"
	"math"
	"time"
)

// Errors at the store boundary.
var (
	// ErrNotFound: the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBadCursor: a page cursor that no store issued.
	ErrBadCursor = errors.New("invalid page cursor")
)

// JournalEvent is one audit event kept by the store: the durable journal
// that webhook batches are acknowledged against, replayed after a restart,
// and served as evidence. Body is the redacted event JSON.
type JournalEvent struct {
	Seq       int64     `json:"seq"`
	Cluster   string    `json:"cluster"`
	Key       string    `json:"key"` // auditID/stage: the de-duplication key
	UID       string    `json:"uid,omitempty"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Time      time.Time `json:"time"`
	Body      []byte    `json:"-"`
}

// EventPage is a page of a pod's events: at most Limit (0: all) of those
// after the event at time After (unix ns) and seq AfterSeq (0: from the
// first).
type EventPage struct {
	After    int64
	AfterSeq int64
	Limit    int
}

// Bounds are the page's bounds as query arguments: the position after
// which it starts and how many rows it takes at most.
func (p EventPage) Bounds() (after, afterSeq, limit int64) {
	if p.AfterSeq == 0 {
		after = math.MinInt64
	} else {
		after, afterSeq = p.After, p.AfterSeq
	}
	limit = math.MaxInt64
	if p.Limit > 0 {
		limit = int64(p.Limit)
	}
	return after, afterSeq, limit
}

// PodState is a pod's lifecycle state as the lifecycle package encodes it,
// stored so pods can leave memory and survive restarts.
type PodState struct {
	Cluster   string
	UID       string
	Namespace string
	Name      string
	Created   int64 // unix ns
	LastSeen  int64 // unix ns
	State     []byte
}

// Commit is what the pipeline stores in one transaction after applying
// events: pod states, their records, and how far the journal was applied.
type Commit struct {
	Cluster string
	Pods    []PodState
	Records []Record
	// Applied is the highest journal seq whose event is reflected in Pods.
	Applied int64
	// Offsets are source positions to resume from (e.g. a followed audit
	// file), keyed by source name.
	Offsets map[string]int64
	// Held is the journal seq of the oldest entry applied but kept only in
	// memory (events and spans waiting for their pod), 0 if none: after a
	// restart the journal is applied again from there. Stores save it as
	// the offset HeldOffset(Cluster), and only from the commit whose Applied
	// is the highest saved: replicas applying a shared journal save at
	// different positions, and one behind must not hide what the one
	// furthest on holds.
	Held int64
	// Partial means more of the same save follows in later commits: the
	// store saves Pods and Records (at position Applied) but leaves the
	// applied position and the offsets alone, so that a crash between the
	// parts recovers from the previous complete save. Each pod's state
	// remembers the last journal seq applied to it (lifecycle.Pod.Seq), so
	// re-applying the journal's tail over a pod saved by an earlier part
	// skips what that pod already holds.
	Partial bool
}

// HeldOffset names the offset under which a store saves a cluster's
// Commit.Held (read back with Store.Offset).
func HeldOffset(cluster string) string { return "held/" + cluster }

// RecordFilter selects records. Zero fields match everything.
type RecordFilter struct {
	Cluster   string
	Namespace string
	Name      string
	UID       string
	Kind      Kind
	Outcome   Outcome
	Code      string // a diagnosis code the record carries
	Owner     Owner  // a diagnosis owner the record carries
	Node      string
	TraceID   string // the record's trace id (Record.TraceHex), 32 hex digits
	// SpanTraceID is a trace id of one of the record's component spans
	// (Record.SpanTraceIDs), 32 lower-case hex digits.
	SpanTraceID string
	Since       time.Time // created at or after
	Until       time.Time // created before
	Limit       int
	Cursor      string // opaque, from a previous page
}

// Store keeps the journal, pod states and records. Implementations: sqlite
// (embedded, the default) and postgres.
type Store interface {
	// AppendEvents durably journals events, skipping those whose
	// (Cluster, Key) is already journaled; it sets Seq on the events it
	// added and reports which were added.
	AppendEvents(ctx context.Context, evs []JournalEvent) (added []bool, err error)
	// EventsAfter returns journaled events with Seq > after, in Seq order.
	EventsAfter(ctx context.Context, cluster string, after int64, limit int) ([]JournalEvent, error)
	// Save stores a Commit atomically.
	Save(ctx context.Context, c Commit) error
	// Applied returns the Commit.Applied last saved for the cluster.
	Applied(ctx context.Context, cluster string) (int64, error)
	// Offset returns a source offset last saved, or 0.
	Offset(ctx context.Context, source string) (int64, error)

	// LoadPod returns a pod's stored state, or ErrNotFound.
	LoadPod(ctx context.Context, cluster, uid string) (PodState, error)
	// EventUID returns the pod uid journaled with the event key
	// (auditID/stage), or ErrNotFound (no such event, or one that named its
	// pod only by name).
	EventUID(ctx context.Context, cluster, key string) (string, error)
	// PodsNamed returns the pods that bore namespace/name.
	PodsNamed(ctx context.Context, cluster, namespace, name string) ([]PodState, error)

	// Records lists records matching f, newest first, and a cursor for
	// the next page ("" on the last).
	Records(ctx context.Context, f RecordFilter) ([]Record, string, error)
	// Briefs calls fn with the brief of each record f selects, in the
	// order of Records, at most f.Limit of them (all when it is 0), until
	// fn returns false. The Brief, with what it points to, is reused for
	// the next one: fn keeps a Clone, or the strings, never b itself. The
	// store holds a read connection while fn runs.
	Briefs(ctx context.Context, f RecordFilter, fn func(*Brief) bool) error
	// PodEvents returns the journaled events of a pod, in time order (time,
	// then seq), one page at a time.
	PodEvents(ctx context.Context, cluster, uid string, page EventPage) ([]JournalEvent, error)

	// DeleteBefore deletes, in one short transaction, at most limit rows of
	// each kind that the cluster holds from before the cutoff: records of
	// deliveries that finished (or, still open, were created) before it,
	// pod states last seen before it, and journal events before it that are
	// already applied (Applied), so recovery never needs a deleted event.
	// It reports how many rows it deleted; retention calls it until that is
	// less than limit.
	DeleteBefore(ctx context.Context, cluster string, before time.Time, limit int) (int, error)

	Close() error
}
