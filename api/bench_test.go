package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/api"
	"github.com/podtrace/podtrace/sqlite"
)

// benchStore holds n records shaped like the crafted ones, spread over
// namespaces, nodes and a day.
func benchStore(b *testing.B, n int) *api.API {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{Sync: "OFF"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	base := crafted()
	batch := make([]podtrace.Record, 0, 1000)
	for i := 0; i < n; i++ {
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
			if err := st.Save(ctx, podtrace.Commit{Cluster: "default", Records: batch}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return api.New(st, api.Options{})
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
	for b.Loop() {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	}
}

// BenchmarkPodsPage: one page of 50 from 100k deliveries, filtered.
func BenchmarkPodsPage(b *testing.B) {
	a := benchStore(b, 100_000)
	b.Run("newest", func(b *testing.B) { benchGet(b, a, "/api/v1/pods?limit=50") })
	b.Run("namespace", func(b *testing.B) { benchGet(b, a, "/api/v1/pods?limit=50&namespace=ns-7&outcome=ready") })
}

// BenchmarkSummaries: the SLO and diagnoses summaries over 100k
// deliveries (the default scan bound).
func BenchmarkSummaries(b *testing.B) {
	a := benchStore(b, 100_000)
	b.Run("slo", func(b *testing.B) { benchGet(b, a, "/api/v1/slo/summary?group_by=namespace&step=auto") })
	b.Run("diagnoses", func(b *testing.B) { benchGet(b, a, "/api/v1/diagnoses/summary?step=auto") })
	b.Run("jaeger-search", func(b *testing.B) {
		benchGet(b, a, "/api/traces?service=podtrace&operation=image&minDuration=30s&limit=20")
	})
}
