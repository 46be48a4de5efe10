// Package webhook is the kube-apiserver audit webhook backend target:
// an http.Handler for POST /audit that takes an audit.k8s.io/v1 EventList
// (or a single Event), optionally gzip-compressed, and answers 200 only once
// the batch is durable in podtrace's journal.
//
// Responses: 200 durable; 400 malformed JSON (the well-formed events before
// the fault are kept); 401 missing or wrong token; 405 not POST; 413 body or
// decompressed body over the limit; 415 not JSON; 503 overloaded or not
// ready (the apiserver retries), or the body's bytes do not fit the
// receivers' in-flight bound; 408 a body arriving slower than its pace.
// Every rejection is counted.
package webhook

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podtrace/podtrace/auth"
	"github.com/podtrace/podtrace/decode"
	"github.com/podtrace/podtrace/inflight"
	"github.com/podtrace/podtrace/ingest"
)

// Queue is where the handler hands decoded batches; *ingest.Pipeline is one.
type Queue interface {
	Enqueue(ctx context.Context, b ingest.Batch, block bool) (<-chan error, error)
}

// Options configure the handler.
type Options struct {
	// MaxBytes bounds the body, and separately the decompressed body.
	MaxBytes int64
	// Token, if set, is the bearer token clients must present.
	Token string
	// InFlight, if set, bounds the (decompressed) body bytes held at once,
	// counted as they are read and held until the batch is durable; it may
	// be shared with other receivers.
	InFlight *inflight.Bound
	// Pace, if its MinRate is set, is the slowest a body may arrive.
	Pace inflight.Pace
	// Now is the clock of the pace (time.Now if nil).
	Now func() time.Time
}

// Stats count requests and events by outcome.
type Stats struct {
	Requests      atomic.Int64
	Accepted      atomic.Int64 // batches acknowledged
	Events        atomic.Int64 // audit events read
	Relevant      atomic.Int64 // events about pods handed on
	Malformed     atomic.Int64 // events or documents that were not valid audit JSON
	Rejected      sync.Map     // reason → *atomic.Int64 (bad_json, bad_body, too_large, unauthorized, method, content_type, overloaded, inflight_bytes, slow_body, unavailable)
	BytesReceived atomic.Int64
}

// Reject counts a rejection.
func (s *Stats) reject(reason string) {
	v, _ := s.Rejected.LoadOrStore(reason, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// Rejections returns the rejection counts by reason.
func (s *Stats) Rejections() map[string]int64 {
	out := map[string]int64{}
	s.Rejected.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// Handler serves the audit webhook.
type Handler struct {
	opt   Options
	q     Queue
	log   *slog.Logger
	pool  sync.Pool
	Stats Stats
}

// New returns a handler feeding q.
func New(opt Options, q Queue, log *slog.Logger) *Handler {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = 32 << 20
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	h := &Handler{opt: opt, q: q, log: log}
	h.pool.New = func() any { return &decode.Decoder{KeepRaw: true} }
	return h
}

func (h *Handler) fail(w http.ResponseWriter, code int, reason, msg string) {
	h.Stats.reject(reason)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, msg, code)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.Stats.Requests.Add(1)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, "method", "audit webhook takes POST")
		return
	}
	if h.opt.Token != "" && !auth.Bearer(r.Header.Get("Authorization"), h.opt.Token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="podtrace"`)
		h.fail(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			h.fail(w, http.StatusUnsupportedMediaType, "content_type", fmt.Sprintf("content type %q: want application/json", ct))
			return
		}
	}
	body, held, err := h.readBody(w, r)
	defer held.Release()
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge), errors.Is(err, errTooLarge):
			h.fail(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", h.opt.MaxBytes))
		case errors.Is(err, inflight.ErrFull):
			h.fail(w, http.StatusServiceUnavailable, "inflight_bytes", "podtrace is overloaded (request bytes in flight); retry")
		case errors.Is(err, os.ErrDeadlineExceeded):
			h.fail(w, http.StatusRequestTimeout, "slow_body", "the body arrived slower than the minimum rate")
		default:
			h.fail(w, http.StatusBadRequest, "bad_body", "read body: "+err.Error())
		}
		return
	}
	h.Stats.BytesReceived.Add(int64(len(body)))

	d := h.pool.Get().(*decode.Decoder)
	before := d.Stats
	var evs []*decode.Event
	derr := d.Decode(body, func(ev *decode.Event) { evs = append(evs, ev) })
	h.Stats.Events.Add(d.Stats.Events - before.Events)
	h.Stats.Malformed.Add(d.Stats.Malformed - before.Malformed)
	h.Stats.Relevant.Add(int64(len(evs)))
	h.pool.Put(d)

	if len(evs) > 0 {
		if err := h.enqueue(r.Context(), evs); err != nil {
			switch {
			case errors.Is(err, ingest.ErrOverloaded):
				h.fail(w, http.StatusServiceUnavailable, "overloaded", "podtrace is overloaded; retry")
			case errors.Is(err, ingest.ErrClosed):
				h.fail(w, http.StatusServiceUnavailable, "unavailable", "podtrace is shutting down; retry")
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
				h.fail(w, http.StatusServiceUnavailable, "unavailable", "request cancelled before the batch was durable")
			default:
				h.log.Error("journal batch", "err", err)
				h.fail(w, http.StatusServiceUnavailable, "unavailable", "could not store the batch; retry")
			}
			return
		}
	}
	if derr != nil {
		h.fail(w, http.StatusBadRequest, "bad_json", fmt.Sprintf("malformed audit JSON (%d well-formed events before the fault were kept): %v", len(evs), derr))
		return
	}
	h.Stats.Accepted.Add(1)
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) enqueue(ctx context.Context, evs []*decode.Event) error {
	done, err := h.q.Enqueue(ctx, ingest.Batch{Events: evs}, false)
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errTooLarge = errors.New("decompressed body too large")

// readBody reads the (possibly gzip-compressed) body within the limit, its
// pace and the in-flight bound; the caller releases what it holds once the
// batch is handled.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *inflight.Reader, error) {
	rc := http.NewResponseController(w)
	wire := inflight.NewReader(http.MaxBytesReader(w, r.Body, h.opt.MaxBytes), nil, h.opt.Pace, h.opt.Now(), rc.SetReadDeadline)
	defer wire.Release()
	rd := io.Reader(wire)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		rd = zr
	}
	held := inflight.NewReader(rd, h.opt.InFlight, inflight.Pace{}, time.Time{}, nil)
	// the buffer grows with what arrived, never ahead to the declared
	// length: a client declaring 32 MiB and sending nothing holds nothing
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(held, h.opt.MaxBytes+1)); err != nil {
		return nil, held, err
	}
	b := buf.Bytes()
	if int64(len(b)) > h.opt.MaxBytes {
		return nil, held, errTooLarge
	}
	return b, held, nil
}
