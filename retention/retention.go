// Package retention deletes what a podtrace instance stored longer ago than
// it is asked to keep — delivery records, pod states and applied journal
// events of its cluster — in small batches (Store.DeleteBefore), pausing
// between them, so the store's size stays flat and no transaction or lock
// grows with the backlog.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/podtrace/podtrace"
)

// Config says what to keep and how to delete.
type Config struct {
	Cluster string
	// Keep is how long rows are kept; 0 keeps everything.
	Keep time.Duration
	// Every is how often a sweep runs.
	Every time.Duration
	// Batch bounds the rows of each kind one transaction deletes.
	Batch int
	// Pause is the rest between two batches of one sweep.
	Pause time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// DefaultConfig returns the defaults (keep everything).
func DefaultConfig() Config {
	return Config{Every: time.Minute, Batch: 1000, Pause: 10 * time.Millisecond}
}

// Stats count what retention deleted.
type Stats struct {
	Deleted atomic.Int64 // rows
	Sweeps  atomic.Int64
	Errors  atomic.Int64
}

// Sweeper deletes old rows of one cluster.
type Sweeper struct {
	cfg   Config
	store podtrace.Store
	log   *slog.Logger
	Stats Stats
}

// New returns a sweeper over store.
func New(cfg Config, store podtrace.Store, log *slog.Logger) *Sweeper {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultConfig().Batch
	}
	return &Sweeper{cfg: cfg, store: store, log: log}
}

// Sweep deletes, batch by batch, everything older than Keep; it returns the
// rows deleted.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	if s.cfg.Keep <= 0 {
		return 0, nil
	}
	cut := s.cfg.Now().Add(-s.cfg.Keep)
	total := 0
	for {
		n, err := s.store.DeleteBefore(ctx, s.cfg.Cluster, cut, s.cfg.Batch)
		total += n
		s.Stats.Deleted.Add(int64(n))
		if err != nil {
			s.Stats.Errors.Add(1)
			return total, err
		}
		if n < s.cfg.Batch {
			s.Stats.Sweeps.Add(1)
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(s.cfg.Pause):
		}
	}
}

// Run sweeps every Every until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	if s.cfg.Keep <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.Every)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("retention sweep", "err", err)
		} else if n > 0 {
			s.log.Info("retention sweep", "deleted", n, "keep", s.cfg.Keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ParseDuration is time.ParseDuration that also takes whole days ("30d"),
// the unit retention is usually given in.
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("duration %q: want a whole number of days (30d) or a Go duration (720h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a whole number of days (30d) or a Go duration (720h)", s)
	}
	return d, nil
}
