package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/postgres"
	"github.com/podtrace/podtrace/sqlite"
	"github.com/podtrace/podtrace/storetest"
)

// benchStores runs fn with n records shaped like the crafted ones, spread
// over namespaces, nodes and a day, in each store: SQLite always,
// PostgreSQL under scripts/with-postgres.sh.
func benchStores(b *testing.B, n int, fn func(b *testing.B, a *api.API)) {
	ctx := context.Background()
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{Sync: "OFF"})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		fill(b, st, n)
		fn(b, api.New(st, api.Options{}))
	})
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv(storetest.PostgresEnv) == "" {
			b.Skip(storetest.PostgresEnv + " not set (run under scripts/with-postgres.sh)")
		}
		dsn := storetest.PostgresDatabase(b)
		st, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		fill(b, st, n)
		// what autovacuum does after a load: statistics and the visibility map
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE records"); err != nil {
			b.Fatal(err)
		}
		fn(b, api.New(st, api.Options{}))
	})
}

// fill saves n records made from the crafted ones, in batches of 1000.
func fill(b *testing.B, st podtrace.Store, n int) {
	b.Helper()
	base := crafted()
	batch := make([]podtrace.Record, 0, 1000)
	for i := range n {
		r := base[i%len(base)]
		r.UID = fmt.Sprintf("uid-%07d", i)
		r.Namespace = fmt.Sprintf("ns-%d", i%20)
		r.Node = fmt.Sprintf("node-%d", i%50)
		shift := time.Duration(i) * (24 * time.Hour / time.Duration(n))
		r.Created = r.Created.Add(shift)
		fin := r.Finished.Add(shift)
		r.Finished = &fin
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == n-1 {
			if err := st.Save(context.Background(), podtrace.Commit{Cluster: "default", Records: batch}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

func benchGet(b *testing.B, a *api.API, target string) {
	b.Helper()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	if rec.Code != 200 {
		b.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
	}
	b.SetBytes(int64(rec.Body.Len()))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	}
	// this process's CPU time: on a shared machine wall time is mostly
	// waiting (PostgreSQL's own work is not in it)
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPodsPage: one page of 50 from 100k deliveries, filtered, and a
// page deep in the list (cursor).
func BenchmarkPodsPage(b *testing.B) {
	benchStores(b, 100_000, func(b *testing.B, a *api.API) {
		b.Run("newest", func(b *testing.B) { benchGet(b, a, "/api/v1/pods?limit=50") })
		b.Run("namespace", func(b *testing.B) { benchGet(b, a, "/api/v1/pods?limit=50&namespace=ns-7&outcome=ready") })
		b.Run("deep", func(b *testing.B) {
			// the page after the newest 50 000 deliveries
			cursor := ""
			for range 50 {
				rec := httptest.NewRecorder()
				a.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/pods?limit=1000&cursor="+cursor, nil))
				var p api.Page
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Next == nil {
					b.Fatalf("page: %d %v", rec.Code, err)
				}
				cursor = *p.Next
			}
			benchGet(b, a, "/api/v1/pods?limit=50&cursor="+cursor)
		})
	})
}

// BenchmarkSummaries: the SLO and diagnoses summaries over 100k
// deliveries (the default scan bound).
func BenchmarkSummaries(b *testing.B) {
	benchStores(b, 100_000, func(b *testing.B, a *api.API) {
		b.Run("slo", func(b *testing.B) { benchGet(b, a, "/api/v1/slo/summary?group_by=namespace&step=auto") })
		b.Run("diagnoses", func(b *testing.B) { benchGet(b, a, "/api/v1/diagnoses/summary?step=auto") })
		b.Run("jaeger-search", func(b *testing.B) {
			benchGet(b, a, "/api/traces?service=podtrace&operation=image&minDuration=30s&limit=20")
		})
	})
}
