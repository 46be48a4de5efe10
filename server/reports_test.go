package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/postgres"
	"github.com/podtrace/podtrace/storetest"
)

// failFirstSave is a real store whose first Save fails, as a store briefly
// unreachable does.
type failFirstSave struct {
	podtrace.Store
	saves int
}

func (s *failFirstSave) Save(ctx context.Context, c podtrace.Commit) error {
	if s.saves++; s.saves == 1 {
		return errors.New("store unreachable")
	}
	return s.Store.Save(ctx, c)
}

// TestClaimsOutliveFailedSave: a replica claims a closed record and its
// save fails; the pipeline saves the pod again, and the claim, now taken in
// the database, must still be this replica's: without it no replica would
// report the record. A claim another replica holds stays theirs.
func TestClaimsOutliveFailedSave(t *testing.T) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, storetest.PostgresDatabase(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	end := time.Date(2026, 11, 21, 20, 48, 39, 0, time.UTC)
	mine := podtrace.Record{Cluster: "ha", UID: "uid-mine", Kind: podtrace.KindCreate, Finished: &end}
	theirs := podtrace.Record{Cluster: "ha", UID: "uid-theirs", Kind: podtrace.KindCreate, Finished: &end}
	if won, err := st.ClaimReports(ctx, []podtrace.Record{theirs}); err != nil || !won[0] {
		t.Fatalf("the other replica's claim: %v %v", won, err)
	}
	cs := newClaimingStore(&failFirstSave{Store: st}, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	c := podtrace.Commit{Cluster: "ha", Records: []podtrace.Record{mine, theirs}, Applied: 1}
	if err := cs.Save(ctx, c); err == nil {
		t.Fatal("the first save did not fail: the test proves nothing")
	}
	if err := cs.Save(ctx, c); err != nil {
		t.Fatal(err)
	}
	if !cs.reports(&mine) {
		t.Error("the record this replica claimed before its save failed is reported by no replica")
	}
	if cs.reports(&theirs) {
		t.Error("a record another replica claimed is reported here too")
	}
	// a later save that succeeds starts afresh
	if err := cs.Save(ctx, podtrace.Commit{Cluster: "ha", Applied: 2}); err != nil {
		t.Fatal(err)
	}
	if cs.reports(&mine) {
		t.Error("a claim is still reported after the next save")
	}
}
