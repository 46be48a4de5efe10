package server

import (
	"context"
	"log/slog"

	"github.com/podtrace/podtrace"
)

// reportClaimer is a store shared by replicas that claims closed records
// for one of them (postgres.Store).
type reportClaimer interface {
	ClaimReports(ctx context.Context, recs []podtrace.Record) ([]bool, error)
}

// claimingStore is the pipeline's store when replicas share the journal:
// every replica closes every record, but the once-per-close side effects
// (delivery metrics, trace export) must happen once. Before each save it
// claims the commit's closed records; the hook then reports a record only
// in the replica that claimed it first. Claiming before saving matters: a
// replica that restores a pod another one saved closed finds the record
// already claimed. Save and reports are called from the pipeline's
// goroutine only (the hook runs right after the save it follows).
type claimingStore struct {
	podtrace.Store
	claim  reportClaimer
	log    *slog.Logger
	won    map[podtrace.Key]bool // claimed by the last save (all its parts)
	failed bool                  // a claim of the last save failed
	parts  bool                  // the last Save was a part: more of its save follows
}

func newClaimingStore(st podtrace.Store, c reportClaimer, log *slog.Logger) *claimingStore {
	return &claimingStore{Store: st, claim: c, log: log, won: map[podtrace.Key]bool{}}
}

// Save claims the closed records of c, then saves c. A save in parts
// (podtrace.Commit.Partial) keeps the claims of all its parts, and so does
// a save that failed: the pipeline saves its pods again and reports their
// records then, when claiming them again finds them taken, by this
// replica.
func (s *claimingStore) Save(ctx context.Context, c podtrace.Commit) error {
	if !s.parts {
		clear(s.won)
		s.failed = false
	}
	s.parts = c.Partial
	won, err := s.claim.ClaimReports(ctx, c.Records)
	// rather count a record twice than never: without a claim, report
	s.failed = s.failed || err != nil
	if err != nil {
		s.log.Warn("claim closed records failed; this replica reports those it closes", "err", err)
	}
	for i, w := range won {
		if w {
			s.won[c.Records[i].Key()] = true
		}
	}
	if err := s.Store.Save(ctx, c); err != nil {
		s.parts = true // the claims stay for the save made again
		return err
	}
	return nil
}

// reports says whether this replica reports r, closed in the last Save.
func (s *claimingStore) reports(r *podtrace.Record) bool { return s.failed || s.won[r.Key()] }
