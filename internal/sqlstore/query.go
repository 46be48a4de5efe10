package sqlstore

import (
	"math"
	"strings"
	"time"

	"github.com/podtrace/podtrace"
)

// Dialect is what the stores' SQL says differently in RecordQuery.
type Dialect struct {
	// Placeholder is the SQL of the nth argument, from 1: "?" or "$n".
	Placeholder func(n int) string
	// Text makes a string a stored text column can hold.
	Text func(string) string
	// Holds is the condition that a record's column col (codes, owners
	// or span_traces) holds word, with the argument's placeholder p, and
	// that argument.
	Holds func(col, p, word string) (cond string, arg any)
}

// PageQuery is the query of the record bodies of one page of the records f
// selects (f.Limit, default 100), one more than the page to see whether
// another follows, and the page's size: what Records reads with.
func PageQuery(d Dialect, f podtrace.RecordFilter) (string, []any, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	f.Limit = limit + 1
	q, args, err := RecordQuery(d, "body", f)
	return q, args, limit, err
}

// RecordQuery is the query of the given columns of the records f selects,
// in the order stores list records: newest first, then by key, the order
// of their page index (records_page).
func RecordQuery(d Dialect, columns string, f podtrace.RecordFilter) (string, []any, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return d.Placeholder(len(args))
	}
	for _, eq := range []struct{ col, v string }{
		{"cluster", f.Cluster}, {"namespace", f.Namespace}, {"name", f.Name}, {"uid", f.UID}, {"kind", string(f.Kind)},
		{"outcome", string(f.Outcome)}, {"node", f.Node}, {"trace_id", f.TraceID},
	} {
		if eq.v != "" {
			where = append(where, eq.col+" = "+arg(d.Text(eq.v)))
		}
	}
	for _, in := range []struct{ col, v string }{{"codes", f.Code}, {"owners", string(f.Owner)}, {"span_traces", f.SpanTraceID}} {
		if in.v != "" {
			cond, v := d.Holds(in.col, d.Placeholder(len(args)+1), in.v)
			args = append(args, v)
			where = append(where, cond)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "created >= "+arg(unixNano(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "created < "+arg(unixNano(f.Until)))
	}
	if f.Cursor != "" {
		c, err := podtrace.ParseCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		// "created <= c" on its own: the bound the page index is walked from
		where = append(where, "created <= "+arg(c.Created)+" AND (created < "+arg(c.Created)+
			" OR (cluster, uid, kind, seq) > ("+arg(d.Text(c.Cluster))+", "+arg(d.Text(c.UID))+", "+arg(d.Text(c.Kind))+", "+arg(c.Seq)+"))")
	}
	q := "SELECT " + columns + " FROM records"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created DESC, cluster, uid, kind, seq"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	return q, args, nil
}

// unixNano is t in unix nanoseconds, clamped to what they hold (1678 to
// 2262): a query bound beyond them selects as far as it can, where
// t.UnixNano would wrap around and select nothing.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}
