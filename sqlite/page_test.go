package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/internal/sqlstore"
)

// TestPageQueryPlan: pages of records walk records_page in order, never
// sorting; briefs are read from that index alone.
func TestPageQueryPlan(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"), Options{Sync: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mid := podtrace.Record{Cluster: "c", UID: "u", Kind: podtrace.KindCreate, Created: time.Date(2026, 11, 21, 21, 0, 0, 0, time.UTC)}
	cursor := podtrace.CursorAfter(&mid)
	for _, c := range []struct {
		name, columns string
		f             podtrace.RecordFilter
		want          string
	}{
		{"newest", "body", podtrace.RecordFilter{Limit: 51}, "SCAN records USING INDEX records_page"},
		{"cursor", "body", podtrace.RecordFilter{Limit: 51, Cursor: cursor}, "SEARCH records USING INDEX records_page (created<?)"},
		{"briefs", sqlstore.BriefColumn, podtrace.RecordFilter{Limit: 100_001}, "SCAN records USING COVERING INDEX records_page"},
		{"brief window", sqlstore.BriefColumn, podtrace.RecordFilter{Since: mid.Created, Until: mid.Created.Add(time.Hour)},
			"SEARCH records USING COVERING INDEX records_page (created>? AND created<?)"},
	} {
		q, args, err := sqlstore.RecordQuery(dialect(), c.columns, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := queryPlan(t, st, q, args...); got != c.want {
			t.Errorf("%s: plan %q, want %q", c.name, got, c.want)
		}
	}
}

// TestPodEventsQueryPlan: a pod's journal is found through journal_uid,
// and the events that name no uid through the partial journal_name.
func TestPodEventsQueryPlan(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"), Options{Sync: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got := queryPlan(t, st, podEventsQuery, "c", "u", "c", "ns", "p", "c", "u", int64(0), int64(0), int64(0), int64(500))
	for _, want := range []string{"INDEX journal_uid (cluster=? AND uid=?)", "INDEX journal_name (cluster=? AND namespace=? AND name=?)"} {
		if !strings.Contains(got, want) {
			t.Errorf("plan %q: no %q", got, want)
		}
	}
	if strings.Contains(got, "SCAN journal") {
		t.Errorf("plan %q scans the journal", got)
	}
}

// queryPlan is SQLite's plan for q, its steps joined by "; ".
func queryPlan(t *testing.T, st *Store, q string, args ...any) string {
	t.Helper()
	rows, err := st.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}
