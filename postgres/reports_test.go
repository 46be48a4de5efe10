package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/postgres"
	"github.com/podtrace/podtrace/storetest"
)

// TestClaimReports: replicas claiming the same closed records at once win
// each exactly once; open records are never won; claims go with retention.
func TestClaimReports(t *testing.T) {
	dsn := storetest.PostgresDatabase(t)
	ctx := context.Background()
	const replicas, n = 4, 500
	end := time.Date(2026, 11, 21, 20, 48, 39, 0, time.UTC)
	var recs []podtrace.Record
	for i := range n {
		r := podtrace.Record{Cluster: "ha", UID: fmt.Sprintf("uid-%d", i), Kind: podtrace.KindCreate, Seq: i % 3, Finished: &end}
		if i%10 == 0 {
			r.Finished = nil // still open
		}
		if i == 7 {
			r.UID = "bad-\x00-\xff" // hostile text
		}
		recs = append(recs, r)
	}
	stores := make([]*postgres.Store, replicas)
	for i := range stores {
		st, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[i] = st
	}
	wins := make([]int, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// each claims every record twice, in batches of different sizes
			for range 2 {
				for from := 0; from < n; from += 37 {
					batch := recs[from:min(n, from+37)]
					won, err := st.ClaimReports(ctx, batch)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for i, w := range won {
						if w {
							wins[from+i]++
						}
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for i, w := range wins {
		want := 1
		if recs[i].Finished == nil {
			want = 0
		}
		if w != want {
			t.Errorf("record %d (%q) won %d times, want %d", i, recs[i].UID, w, want)
		}
	}
	// retention removes the claims of records that ended before the cutoff
	if _, err := stores[0].DeleteBefore(ctx, "ha", end.Add(time.Second), 10_000); err != nil {
		t.Fatal(err)
	}
	won, err := stores[0].ClaimReports(ctx, recs[:20])
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range won {
		if w != (recs[i].Finished != nil) {
			t.Errorf("after retention, record %d won %v", i, w)
		}
	}
}
