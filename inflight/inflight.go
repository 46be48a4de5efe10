package inflight

import (
	"errors"
	"io"
	"sync"
	"time"
)

// ErrFull is returned by a Reader whose bytes do not fit the Bound.
var ErrFull = errors.New("too many request bytes in flight")

// Bound is the number of request bytes the receivers may hold at once.
type Bound struct {
	limit int64
	mu    sync.Mutex
	used  int64
}

// New returns a bound of limit bytes.
func New(limit int64) *Bound { return &Bound{limit: limit} }

// Acquire reserves n bytes if they fit, and reports whether they did.
func (b *Bound) Acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

// Release returns n bytes reserved by Acquire.
func (b *Bound) Release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// Full reports whether less than a read's worth (64 KiB, or the whole
// bound if smaller) is free: a receiver refuses a new request at once then,
// before reading it.
func (b *Bound) Full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used+min(readSize, b.limit) > b.limit
}

// readSize is a read's worth of a body.
const readSize = 64 << 10

// Used is the number of bytes held now.
func (b *Bound) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Pace is the slowest a body may arrive: by Timeout after the request
// started plus one second per MinRate bytes received. A body behind its pace
// fails to read (the connection's read deadline passes).
type Pace struct {
	Timeout time.Duration
	MinRate int64 // bytes per second
}

// Deadline is when n bytes must have arrived, for a body started at start.
func (p Pace) Deadline(start time.Time, n int64) time.Time {
	return start.Add(p.Timeout + time.Duration(float64(n)/float64(p.MinRate)*float64(time.Second)))
}

// The pace's deadline is set at most a read's worth of bytes ahead, once
// per such chunk, not per read; a chunk is at most a second of MinRate, so
// it gives a client at most a second more.

// Reader reads a request body, charging each byte it returns to a Bound
// (nil: unbounded) and keeping the body to its Pace (zero: none). Release
// returns what it holds once the bytes read were handed on.
type Reader struct {
	r       io.Reader
	b       *Bound
	held    int64
	pace    Pace
	start   time.Time
	next    int64 // bytes read at which the deadline is moved on
	setDead func(time.Time) error
}

// NewReader reads r within b and, if setDeadline is not nil, within pace
// from start (setDeadline sets the connection's read deadline, as
// http.ResponseController's SetReadDeadline does).
func NewReader(r io.Reader, b *Bound, pace Pace, start time.Time, setDeadline func(time.Time) error) *Reader {
	rd := &Reader{r: r, b: b, pace: pace, start: start, setDead: setDeadline}
	if pace.MinRate <= 0 {
		rd.setDead = nil
	}
	rd.movePace()
	return rd
}

// movePace sets the read deadline for the next chunk of the body.
func (r *Reader) movePace() {
	if r.setDead == nil {
		return
	}
	r.next = r.held + max(1, min(readSize, r.pace.MinRate))
	if r.setDead(r.pace.Deadline(r.start, r.next)) != nil {
		r.setDead = nil // the connection does not support deadlines
	}
}

// Read reads from the body, failing with ErrFull when what it read does not
// fit the bound.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		if r.b != nil && !r.b.Acquire(int64(n)) {
			return 0, ErrFull
		}
		r.held += int64(n)
		if r.held >= r.next {
			r.movePace()
		}
	}
	return n, err
}

// Held is the number of bytes read so far.
func (r *Reader) Held() int64 { return r.held }

// Release returns what the reader holds to the bound and lifts the pace's
// read deadline. A nil Reader holds nothing.
func (r *Reader) Release() {
	if r == nil {
		return
	}
	if r.b != nil {
		r.b.Release(r.held)
	}
	r.held = 0
	if r.setDead != nil {
		r.setDead(time.Time{})
	}
}
