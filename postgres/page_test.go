package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/podtrace/podtrace"
	"github.com/podtrace/podtrace/internal/sqlstore"
	"github.com/podtrace/podtrace/storetest"
)

// TestPageQueryPlan: a page of records, the newest or one deep behind a
// cursor, is read by walking records_page from where it starts, never by
// sorting the records (what the planner chooses on 20k analysed rows).
func TestPageQueryPlan(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresDatabase(t)
	st, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 21, 21, 0, 0, 0, time.UTC)
	var batch []podtrace.Record
	for i := range 20_000 {
		batch = append(batch, podtrace.Record{Cluster: "c", Namespace: fmt.Sprintf("ns-%d", i%20), Name: "p", UID: fmt.Sprintf("u-%06d", i),
			Kind: podtrace.KindCreate, Outcome: podtrace.OutcomeReady, Created: t0.Add(time.Duration(i/3) * time.Second)})
		if len(batch) == 1000 {
			if err := st.Save(ctx, podtrace.Commit{Cluster: "c", Records: batch}); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if _, err := st.pool.Exec(ctx, "ANALYZE records"); err != nil {
		t.Fatal(err)
	}
	mid := podtrace.Record{Cluster: "c", UID: "u-010000", Kind: podtrace.KindCreate, Created: t0.Add(10_000 / 3 * time.Second)}
	for _, c := range []struct {
		name string
		f    podtrace.RecordFilter
	}{
		{"newest", podtrace.RecordFilter{Limit: 51}},
		{"cursor", podtrace.RecordFilter{Limit: 51, Cursor: podtrace.CursorAfter(&mid)}},
		{"since", podtrace.RecordFilter{Limit: 51, Since: t0.Add(time.Hour), Cursor: podtrace.CursorAfter(&mid)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, args, err := sqlstore.RecordQuery(dialect(), "body", c.f)
			if err != nil {
				t.Fatal(err)
			}
			var plan []map[string]any
			if err := st.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q, args...).Scan(&plan); err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(plan)
			indexes, sorts := planNodes(plan[0]["Plan"].(map[string]any))
			if strings.Join(indexes, ",") != "records_page" || sorts > 0 {
				t.Errorf("plan reads %v and sorts %d times, want records_page walked in order:\n%s", indexes, sorts, raw)
			}
		})
	}
}

// planNodes lists the indexes a plan scans and counts its sorts.
func planNodes(n map[string]any) (indexes []string, sorts int) {
	if name, ok := n["Index Name"].(string); ok {
		indexes = append(indexes, name)
	}
	if strings.Contains(n["Node Type"].(string), "Sort") {
		sorts++
	}
	children, _ := n["Plans"].([]any)
	for _, c := range children {
		i, s := planNodes(c.(map[string]any))
		indexes, sorts = append(indexes, i...), sorts+s
	}
	return indexes, sorts
}

// TestPodEventsQueryPlan: a pod's journal is found through journal_uid,
// and the events that name no uid through the partial journal_name, on an
// analysed journal of 20k events of 1000 pods.
func TestPodEventsQueryPlan(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, storetest.PostgresDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 21, 21, 0, 0, 0, time.UTC)
	var evs []podtrace.JournalEvent
	for i := range 20_000 {
		uid := fmt.Sprintf("u-%04d", i%1000)
		if i%50 == 0 {
			uid = "" // named by namespace/name only
		}
		evs = append(evs, podtrace.JournalEvent{Cluster: "c", Key: fmt.Sprintf("a-%06d/ResponseComplete", i), UID: uid, Namespace: "ns",
			Name: fmt.Sprintf("p-%04d", i%1000), Time: t0.Add(time.Duration(i) * time.Millisecond), Body: []byte(`{}`)})
	}
	if _, err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, "ANALYZE journal"); err != nil {
		t.Fatal(err)
	}
	var plan []map[string]any
	if err := st.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+podEventsQuery, "c", "u-0007", "ns", "p-0007", t0.UnixNano(), int64(0), int64(0), int64(500)).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(plan)
	indexes, _ := planNodes(plan[0]["Plan"].(map[string]any))
	if got := strings.Join(indexes, ","); got != "journal_uid,journal_name" {
		t.Errorf("plan reads %q, want journal_uid and journal_name:\n%s", got, raw)
	}
}
